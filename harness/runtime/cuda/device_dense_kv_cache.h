#pragma once
// The fp16 baseline on the device: rotated keys and values stored as IEEE half per (layer, KV head), read by the
// F16 attention kernel. Bytes: 2·2·head_dim per token per (layer, KV head), as on the CPU.
#include <vector>

#include "harness/runtime/cuda/device_kv_cache_base.h"

namespace bp::rt::cuda {

class DeviceDenseKvCache : public DeviceKvCacheBase {
 public:
  explicit DeviceDenseKvCache(const DeviceGeometry& g);
  KvBytes bytes() const override;
  size_t bytes_allocated() const override;  // the key and value buffers' sizes
  void reset() override;

 protected:
  int64_t stored_len(int layer, int kv_head) const override { return len_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) override;

 private:
  struct Slot {
    kern::cuda::DeviceBuffer k, v;  // capacity cap tokens × head_dim halves
    int64_t cap = 0;
  };
  Slot& slot(int layer, int h) { return slots_[(size_t)layer * g_.n_kv_heads + h]; }
  const Slot& slot(int layer, int h) const { return slots_[(size_t)layer * g_.n_kv_heads + h]; }
  std::vector<int64_t> len_;
  std::vector<Slot> slots_;
};

}  // namespace bp::rt::cuda
