#pragma once
// Full-precision KV cache: every token's rotated key and value kept per (layer, KV head), as F32 or F16.
// The runtime uses the F32 form on its own (reference logits, calibration); the `fp16` method (the baseline every
// compression method is compared with) registers the F16 form.
#include <vector>

#include "harness/runtime/kv_cache_base.h"

namespace bp::rt {

enum class DenseKvType { F32, F16 };

class DenseKvCache : public KvCacheBase {
 public:
  DenseKvCache(const KvGeometry& g, DenseKvType type);
  // bytes(): the held keys and values (2 sides · tokens · D · elem per (layer, KV head)); bytes_allocated(): their
  // buffers' capacities.
  KvBytes bytes() const override;
  size_t bytes_allocated() const override;
  void reset() override;
  DenseKvType type() const { return type_; }

 protected:
  int64_t stored_len(int layer, int kv_head) const override { return len_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                     float* acc) const override;
  void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const override;
  void store(const StoreBatch& s) override;

 private:
  size_t elem() const { return type_ == DenseKvType::F32 ? 4 : 2; }
  // Keys/values of (layer, kv_head) as raw bytes, [T][D] each.
  std::vector<uint8_t>& kbuf(int layer, int h) { return k_[(size_t)layer * g_.n_kv_heads + h]; }
  std::vector<uint8_t>& vbuf(int layer, int h) { return v_[(size_t)layer * g_.n_kv_heads + h]; }
  const std::vector<uint8_t>& kbuf(int layer, int h) const { return k_[(size_t)layer * g_.n_kv_heads + h]; }
  const std::vector<uint8_t>& vbuf(int layer, int h) const { return v_[(size_t)layer * g_.n_kv_heads + h]; }
  // F32 view of tokens [t0, t1) of a buffer (converted for F16 storage).
  const float* rows_f32(const std::vector<uint8_t>& buf, int64_t t0, int64_t t1, std::vector<float>& tmp) const;

  DenseKvType type_;
  std::vector<int64_t> len_;
  std::vector<std::vector<uint8_t>> k_, v_;
};

}  // namespace bp::rt
