#pragma once
// Per-token quantized KV storage on the device (kv-int8, kv-uniform with axis=token): every (token, KV head) key and
// value quantized on arrival into the packed layouts of kernels/common/kv_layout.h (keys in 64-token tiles, values
// as rows, FP16 scales and mins per group of channels) by the CUDA quantizer, and read directly by the CUDA packed
// attention kernel. Byte for byte the CPU TokenStore's format, so bytes() equals the CPU accounting.
#include <vector>

#include "harness/runtime/cuda/device_kv_cache_base.h"
#include "harness/runtime/cuda/device_packed_store.h"

namespace bp::rt::cuda {

class DevicePackedKvCache : public DeviceKvCacheBase {
 public:
  // bits 8/4/2; group: channels per scale (0 = head_dim); symmetric: absmax without stored mins.
  DevicePackedKvCache(const DeviceGeometry& g, int bits, int group, bool symmetric);
  KvBytes bytes() const override;
  size_t bytes_allocated() const override;  // the packed stores' device buffers
  void reset() override;

 protected:
  int64_t stored_len(int layer, int kv_head) const override { return len_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) override;

 private:
  DevicePackedStore& side(int layer, int h, bool keys) {
    return sides_[((size_t)layer * g_.n_kv_heads + h) * 2 + (keys ? 0 : 1)];
  }
  const DevicePackedStore& side(int layer, int h, bool keys) const {
    return sides_[((size_t)layer * g_.n_kv_heads + h) * 2 + (keys ? 0 : 1)];
  }

  kern::KvLayout klay_, vlay_;
  std::vector<int64_t> len_;
  std::vector<DevicePackedStore> sides_;
};

}  // namespace bp::rt::cuda
