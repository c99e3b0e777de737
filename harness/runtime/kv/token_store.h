#pragma once
// TokenStore: the keys and values of ONE (layer, KV head) as an ordered list of tokens, each stored on its own in a
// selectable format. It is the storage building block of every KV method whose tokens are independent of each
// other: kv-int8, kv-uniform per-token, and the eviction methods (h2o, streamingllm, snapkv), which compose with
// quantization by choosing the format (see storage_param.h for the `storage` parameter).
//
// FORMATS (TokenFormat)
//   fp16       keys and values as IEEE-half rows [T][D] (HalfRows). 2·D bytes per side per token.
//   int8/4/2   per-token quantization into the kernels' packed layouts (kernels/common/kv_layout.h) through two
//              kern::KvStore: keys role Keys (64-token tiles, channel-major inside a tile), values role Values
//              (token rows); axis PerToken with group G: each run of G channels of one token has its own FP16 scale
//              and, unless symmetric, its own FP16 min (x ≈ code·scale + min; quant_math.h). G = 0 means head_dim.
//   Because every token owns its codes and stats, tokens can be appended, overwritten, moved and dropped without
//   touching any other token: eviction never re-quantizes and is lossless for the tokens kept.
//
// ORDER AND INDICES
//   Tokens are kept in the order they were appended; compaction (keep/remove/erase_front) is stable. "Index t" is
//   that order. score()/attend() use it, and KvCacheBase's Observation uses it for stored tokens when the cache
//   reports its TokenStore order (TokenStoreCache does). A method keeps any per-token side data (positions,
//   accumulated scores) in a parallel array and applies the same keep list to it. overwrite() reuses a slot in
//   O(D) (an eviction policy that drops one token and adds one per step may write the new token into the freed
//   slot instead of compacting: attention does not depend on the order).
//
// KERNELS
//   attend(): kern::packed_attention (packed codes read directly, no F32 copy of the cache) or
//   kern::attention_partial_f16; output is the online-softmax partial state (max, sum, acc) to merge with the
//   partial over the batch's new tokens (KvCacheBase does that) or over other parts of a cache (partial.h).
//   scores(): kern::packed_scores or FP16 dot products — raw q·k for observations and eviction scores.
//
// BYTES
//   bytes(): the HELD state, exact for the held token count T (not vector capacity):
//   fp16:   payload = 2 sides · T · D · 2.
//   packed: kern::kv_store_bytes(layout, T) for each side — payload = codes, scales = FP16 scales, zeros = FP16
//           mins (0 when symmetric). Key codes and key stats are allocated in whole 64-token tiles (the layout's
//           unit), so up to 63 tokens of key padding are counted, as allocated. E.g. D = 64, 8 bit, G = 0,
//           symmetric, T a multiple of 64: per token 64 + 64 code bytes + 2 + 2 scale bytes.
//   allocated(): the bytes the store's buffers have ALLOCATED (vector capacities). Growth and compaction follow
//   kernels/common/buffer_capacity.h (bounded growth, shrink after eviction), so allocated() stays within about
//   1/8 plus a few rows of bytes() once a few hundred tokens are held; clear() frees everything.
//
// THREADS: const methods may run concurrently (KvCacheBase calls attend/score from several threads).
#include <cstdint>
#include <string>
#include <vector>

#include "harness/runtime/kv/half_rows.h"
#include "harness/runtime/kv/rows_attention.h"
#include "harness/runtime/kv_cache.h"
#include "kernels/cpu/kv_quant.h"

namespace bp::rt::kv {

struct TokenFormat {
  int bits = 16;           // 16: FP16 rows; 8, 4, 2: packed per-token codes
  int group = 0;           // packed: channels sharing one scale (0 = head_dim); must divide head_dim
  bool symmetric = false;  // packed: absmax scale with implied min (no mins stored); else asymmetric min-max
  bool packed() const { return bits != 16; }
  // "fp16", "int8", "int4-g32", "int2-g32-sym", ...
  std::string label() const;
  // nullptr when usable with this head_dim, else the reason.
  const char* error(int head_dim) const;
  static TokenFormat fp16() { return {}; }
  static TokenFormat quantized(int bits, int group = 0, bool symmetric = false) { return {bits, group, symmetric}; }
};

class TokenStore {
 public:
  TokenStore() = default;
  // Throws std::invalid_argument when format.error(head_dim) is not null.
  TokenStore(int head_dim, const TokenFormat& format);
  // Movable (the packed views point into heap buffers that a move keeps), not copyable.
  TokenStore(TokenStore&&) = default;
  TokenStore& operator=(TokenStore&&) = default;
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  const TokenFormat& format() const { return fmt_; }
  int head_dim() const { return D_; }
  int64_t size() const { return n_; }
  void reserve(int64_t tokens);

  // ---- writing ------------------------------------------------------------------------------------------------
  // Appends n tokens: key i at k + i·stride, value i at v + i·stride (head_dim floats each).
  void append(const float* k, const float* v, int64_t stride, int64_t n);
  // Replaces token t (key and value) in place, O(D).
  void overwrite(int64_t t, const float* k, const float* v);
  // Keeps tokens idx[0..n) (ascending, unique, < size()) in that order; all others are dropped.
  void keep(const int32_t* idx, int64_t n);
  void keep(const std::vector<int32_t>& idx) { keep(idx.data(), (int64_t)idx.size()); }
  // Drops tokens idx (ascending, unique, < size()); the complement of keep().
  void remove(const std::vector<int32_t>& idx);
  // Drops the n oldest tokens.
  void erase_front(int64_t n);
  void clear();

  // ---- reading ------------------------------------------------------------------------------------------------
  // Partial attention of m query rows (q: [m][D] contiguous, rotated as stored keys are and pre-scaled by
  // 1/sqrt(D)) over tokens [t0, t1) (t1 = -1: size()). Empty range: max = -inf, sum = 0, acc = 0.
  void attend(const float* q, int m, float* max, float* sum, float* acc, int64_t t0 = 0, int64_t t1 = -1) const;
  // Raw scores q_i · k_t for t in [t0, t1): out[i·out_stride + (t - t0)].
  void scores(const float* q, int m, float* out, int64_t out_stride, int64_t t0 = 0, int64_t t1 = -1) const;
  // Tokens [t0, t0 + n) back in F32 (dequantized exactly as the kernels see them): key i at k + i·stride, value i
  // at v + i·stride; k or v may be null to skip that side.
  void read(int64_t t0, int64_t n, float* k, float* v, int64_t stride) const;
  // The two sides as Rows (rows_attention.h) starting at token t0, for methods combining runs of several stores.
  // The packed views are owned by the store and stay valid until it is modified.
  Rows key_rows(int64_t t0 = 0) const;
  Rows value_rows(int64_t t0 = 0) const;

  KvBytes bytes() const;
  size_t allocated() const;

 private:
  void sync_views();

  int D_ = 0;
  TokenFormat fmt_;
  int64_t n_ = 0;
  HalfRows hk_, hv_;       // fp16 format
  kern::KvStore pk_, pv_;  // packed format
  kern::PackedKv kview_, vview_;  // views of pk_/pv_, refreshed after every modification
};

// One TokenStore per (layer, KV head) of a cache, all in one format. Policy-free bookkeeping shared by caches.
class TokenStoreGrid {
 public:
  TokenStoreGrid() = default;
  TokenStoreGrid(int n_layers, int n_kv_heads, int head_dim, const TokenFormat& format);
  TokenStore& at(int layer, int kv_head) { return s_[(size_t)layer * hkv_ + kv_head]; }
  const TokenStore& at(int layer, int kv_head) const { return s_[(size_t)layer * hkv_ + kv_head]; }
  // Appends n tokens of one layer laid out as the runtime hands them: [n][n_kv_heads][head_dim] for k and v.
  void append_layer(int layer, const float* k, const float* v, int64_t n);
  KvBytes bytes() const;
  size_t allocated() const;
  void clear();
  int n_layers() const { return layers_; }
  int n_kv_heads() const { return hkv_; }

 private:
  int layers_ = 0, hkv_ = 0, D_ = 0;
  std::vector<TokenStore> s_;
};

}  // namespace bp::rt::kv
