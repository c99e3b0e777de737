#pragma once
// SplitKvCache: a KvCache whose every (layer, KV head) is a SplitKv (split_kv.h): new tokens are appended in FP16,
// then the method's settle() decides which of the oldest FP16 rows of each side to quantize now. The policy is
// entirely the subclass's (kv-uniform per-channel: whole groups of G tokens; KIVI: key blocks of R, values beyond
// the last R). Observations index stored tokens in time order (packed part first, then FP16 rows).
// bytes(): the packed parts (payload, scales, zeros) plus every FP16 row as `window`; bytes_allocated(): the
// capacities of those buffers.
#include <vector>

#include "harness/runtime/kv/split_kv.h"
#include "harness/runtime/kv_cache_base.h"

namespace bp::rt::kv {

class SplitKvCache : public KvCacheBase {
 public:
  SplitKvCache(const KvGeometry& g, const kern::KvLayout& key_layout, const kern::KvLayout& value_layout);
  KvBytes bytes() const override;
  size_t bytes_allocated() const override;
  void reset() override;
  // Tokens held packed and in FP16, per side, summed over (layer, KV head).
  nlohmann::json stats() const override;
  const SplitKv& at(int layer, int kv_head) const { return s_[(size_t)layer * g_.n_kv_heads + kv_head]; }

 protected:
  // Called for each (layer, KV head) right after the batch's tokens were appended to `s` in FP16.
  virtual void settle(SplitKv& s, const StoreBatch& b) = 0;

  int64_t stored_len(int layer, int kv_head) const override { return at(layer, kv_head).size(); }
  void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                     float* acc) const override;
  void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const override;
  void store(const StoreBatch& s) override;

 private:
  std::vector<SplitKv> s_;
};

}  // namespace bp::rt::kv
