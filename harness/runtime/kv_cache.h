#pragma once
// The KV-cache plug point. The runtime hands each layer's new tokens (queries, keys, values, positions) to the
// cache and gets the attention output back; it never knows which method is behind the cache. A method therefore
// decides, per layer and KV head: how keys and values are stored (bit widths, groups, scales), which tokens are kept
// or evicted, whether layers share state (one KvCache object spans all layers), how RoPE positions are assigned,
// and which kernel computes attention over its storage.
//
// Most methods derive from KvCacheBase (kv_cache_base.h), which implements attend() once: rotate, attend over the
// stored tokens through the method's kernel, attend causally over the new tokens in F32, merge the two with the
// log-sum-exp rule, hand attention probabilities to the method when (and only when) it asks, then store.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/runtime/model_config.h"
#include "harness/runtime/rope.h"

namespace bp::rt {

// Shape of the cache: fixed by the model.
struct KvGeometry {
  int n_layers = 0;
  int n_q_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  const Rope* rope = nullptr;  // the model's rotary embedding; caches rotate queries and keys with it
  int threads = 1;             // threads the cache may use inside attend()
  int group() const { return n_q_heads / n_kv_heads; }
};

// The bytes of the state the cache HOLDS, by category, at each buffer's real dtype: what the held tokens (and their
// side data) need, as if every buffer were sized exactly — not what the buffers have allocated (see
// KvCache::bytes_allocated()). Where the storage format itself allocates in whole units (64-token key tiles of the
// packed layouts), the padding of the last unit is counted.
struct KvBytes {
  size_t payload = 0;   // packed codes or full-precision K/V of the compressed part
  size_t scales = 0;    // quantization scales (and per-channel normalisers)
  size_t zeros = 0;     // zero points / minima
  size_t indices = 0;   // token indices, masks, class bitmaps, length tables
  size_t window = 0;    // full-precision residual windows / buffers (KIVI residual, ZipCache decode buffer, ...)
  size_t scores = 0;    // eviction scores kept between steps (H2O accumulated attention, ...)
  size_t other = 0;     // anything else the method keeps (merged magnitudes, ...)
  size_t total() const { return payload + scales + zeros + indices + window + scores + other; }
  KvBytes& operator+=(const KvBytes& o);
  nlohmann::json to_json() const;
};

enum class Phase { Prefill, Decode };

// Token selection for prefill attention (TokenSelector, ZipVL-style sparse prefill).
struct TokenSelection {
  std::vector<int32_t> tokens;  // indices into the batch's new tokens, ascending; these take part in attention
  bool all_queries = false;     // false: only selected queries attend (others output 0); true: all queries attend to the selected keys
};

// One layer's new tokens in one forward call. q and k are NOT rotated: the cache owns RoPE positions.
struct AttnBatch {
  int layer = 0;
  Phase phase = Phase::Prefill;
  int n = 0;                       // number of new tokens
  const int32_t* pos = nullptr;    // absolute positions of the new tokens [n]
  float* q = nullptr;              // [n][n_q_heads][head_dim]   (may be rotated in place by the cache)
  float* k = nullptr;              // [n][n_kv_heads][head_dim]  (may be rotated in place by the cache)
  const float* v = nullptr;        // [n][n_kv_heads][head_dim]
  float* out = nullptr;            // [n][n_q_heads][head_dim]
  const TokenSelection* selection = nullptr;  // nullptr: every new token takes part
};

class KvCache {
 public:
  virtual ~KvCache() = default;
  // Computes attention for the batch's queries over every token the cache holds for this layer plus the batch's
  // own tokens (causally), writes b.out, then takes the batch's keys and values into its storage.
  virtual void attend(AttnBatch& b) = 0;
  // Bytes of the state held right now (KvBytes above): `kv_bytes` in the results.
  virtual KvBytes bytes() const = 0;
  // Bytes ALLOCATED right now by the cache's storage: the real capacity of every buffer whose size depends on the
  // tokens (std::vector capacities of keys, values, codes, scales, minima, FP16 windows, positions, scores,
  // observations kept between calls), whatever part of it is in use: `kv_bytes_allocated` in the results. Not
  // counted: the fixed bookkeeping a cache allocates at construction (the cache object, per-layer/head tables of
  // buffer headers and counters), whose size does not depend on the tokens. >= bytes().total() in normal use;
  // caches keep the two close (kernels/common/buffer_capacity.h). tests/alloc checks it against the heap.
  virtual size_t bytes_allocated() const = 0;
  // Tokens held for (layer, kv_head) after the last attend (after eviction or merging).
  virtual int64_t tokens(int layer, int kv_head) const = 0;
  // Forget everything (a new sequence).
  virtual void reset() = 0;
  // Method-specific counters worth storing with the results (retained fraction, re-compressions, ...).
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
};

}  // namespace bp::rt
