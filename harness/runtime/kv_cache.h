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

// What the cache really holds, by category, in bytes, counted where it is allocated at its real dtype.
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
  // Bytes held right now.
  virtual KvBytes bytes() const = 0;
  // Tokens held for (layer, kv_head) after the last attend (after eviction or merging).
  virtual int64_t tokens(int layer, int kv_head) const = 0;
  // Forget everything (a new sequence).
  virtual void reset() = 0;
  // Method-specific counters worth storing with the results (retained fraction, re-compressions, ...).
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
};

}  // namespace bp::rt
