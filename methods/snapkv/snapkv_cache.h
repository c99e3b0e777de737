#pragma once
// SnapKV (methods.md §7; Li et al. 2024; FasterDecoding/SnapKV `snapkv_utils.py`): the prompt's last w queries (the
// observation window) vote for the prefix tokens they attend to; once, at prefill, each KV head keeps its C - w
// most voted prefix tokens plus the window and drops the rest. Decode tokens are appended with no further eviction.
//
// SELECTION, at the end of a Prefill call whose total (stored + new) L exceeds the capacity C:
//   window   w' = min(window, n, C) last tokens of the call (n = new tokens); their rows are the observation rows;
//            prefix = the L - w' tokens before them (stored tokens, then the call's earlier tokens);
//   votes    v_j = Σ_{rows i} Σ_{query heads of the KV group} p(i, j) over prefix tokens j, with p the causal
//            softmax over ALL keys (prefix + window), as the reference's softmax before slicing [..., :-w];
//   pooling  1-D over the token axis, stride 1, `kernel` odd, padding kernel/2: avgpool = Σ over the kernel span
//            / kernel (zeros outside, torch's count_include_pad), maxpool = max over the span's tokens;
//   keep     the C - w' prefix tokens of highest pooled vote (ties: the later token) + the window, per KV head.
// Attention of the prefill itself is full (the selection only shapes what later tokens see). GQA: the reference
// repeats K/V to every query head and selects per query head; here a KV head is stored once and its selection
// uses the votes summed over its group (methods.md §0.3).
// CAPACITY: budget=tokens: C = capacity (default 2048 as the reference; nothing is evicted below it);
// budget=ratio: C = max(1, floor(capacity_ratio · L)) at that prefill (for 1k-8k contexts where 2048 would keep
// everything).
//
// STORAGE. A TokenStore per (layer, KV head) in the `storage` format; keys post-RoPE at their absolute positions.
// BYTES (exact): the TokenStore only (fp16: 4·D B per kept token-head; packed: codes, FP16 scales/mins, key tiles
// of 64 tokens as allocated). Votes are transient (freed after the selection); no position or score is kept.
#include <cstdint>
#include <vector>

#include "harness/runtime/kv/token_store_cache.h"

namespace bp::methods::snapkv {

enum class Pooling { Avg, Max };

struct Config {
  bool ratio = false;
  int64_t capacity = 2048;
  double capacity_ratio = 0.2;
  int window = 32;
  int kernel = 5;
  Pooling pooling = Pooling::Avg;
};

// 1-D pooling of x (stride 1, odd kernel, padding kernel/2), as torch avg_pool1d (count_include_pad) / max_pool1d.
std::vector<float> pool1d(const std::vector<float>& x, int kernel, Pooling p);

// Indices (ascending) of the k highest entries of x (ties: the later index).
std::vector<int32_t> top_k(const std::vector<float>& x, int64_t k);

// The selection rule shared by the CPU and the CUDA cache. Capacity for a prefill whose total (stored + new) is L;
// observation rows w' of a call of n new tokens (0: no selection).
int64_t snapkv_capacity(const Config& c, int64_t L);
int snapkv_window_rows(const Config& c, int64_t L, int n);
// Keep flags over the L = prefix + w tokens from the votes (column sums, at least prefix of them; the window's own
// columns are ignored): the C - w prefix tokens of highest pooled vote, and the window.
std::vector<uint8_t> snapkv_keep(const Config& c, const std::vector<float>& votes, int64_t L, int w, int64_t C);

// The stats() both caches report (layer 0: whether a selection happened, its prompt length and tokens kept).
nlohmann::json snapkv_stats(bool selected, int64_t prompt_tokens, int64_t kept);

class SnapKvCache : public rt::kv::TokenStoreCache {
 public:
  SnapKvCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c);
  void reset() override;
  // The stores' capacities plus any votes held (only between a prefill call's observation and its selection).
  size_t bytes_allocated() const override;
  nlohmann::json stats() const override;
  // Capacity for a prefill whose total (stored + new) is L.
  int64_t capacity(int64_t L) const;

 protected:
  rt::ObserveRequest observe(const rt::AttnBatch& b) const override;
  void on_attention(const rt::Observation& o) override;
  void store(const rt::StoreBatch& s) override;

 private:
  int window_rows(int64_t L, int n) const;

  Config cfg_;
  std::vector<std::vector<float>> votes_;  // per KV head of the current call: column sums over stored + new
  int64_t prompt_ = 0, kept_ = 0;          // layer 0: prompt length at the last selection and tokens kept
  bool selected_ = false;
};

}  // namespace bp::methods::snapkv
