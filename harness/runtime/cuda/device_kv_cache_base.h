#pragma once
// DeviceKvCacheBase: the CUDA twin of KvCacheBase's attend() flow (kv_cache_base.h), so a device method only says
// how it stores tokens and which kernel reads them:
//   1. rotate queries (scaled by 1/sqrt(head_dim)) and keys at their absolute positions on the device;
//   2. per query head: partial over the stored tokens (the method's attend_stored kernel), partial over the new
//      tokens (causal F32 flash kernel), merged and normalised into the output;
//   3. store() takes the rotated keys and the values.
// Observations (attention probabilities) are not available on the device: methods that need them (H2O, SnapKV,
// ZipCache) run on the CPU backend.
#include <vector>

#include "harness/runtime/device_session.h"
#include "kernels/cuda/kv_cuda.h"

namespace bp::rt::cuda {

using rt::DeviceGeometry;

class DeviceKvCacheBase : public DeviceKvCache {
 public:
  explicit DeviceKvCacheBase(const DeviceGeometry& g);
  void attend(DeviceAttnBatch& b) override;
  int64_t tokens(int layer, int kv_head) const override { return stored_len(layer, kv_head); }

 protected:
  virtual int64_t stored_len(int layer, int kv_head) const = 0;
  // Partial over the stored tokens of (layer, kv_head) for m query rows (row i at q + i·q_stride, rotated and
  // scaled), written to max[m], sum[m], acc[m][head_dim] (device), ordered on `stream`.
  virtual void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                             float* acc, void* stream) const = 0;
  // Rotated keys and values [n][n_kv_heads][head_dim] (device) to take into storage.
  virtual void store(int layer, const float* k, const float* v, int n, void* stream) = 0;

  DeviceGeometry g_;

 private:
  void ensure_scratch(int n);
  int cap_ = 0;
  kern::cuda::DeviceBuffer st_max_, st_sum_, st_acc_, nw_max_, nw_sum_, nw_acc_, out_index_;
};

}  // namespace bp::rt::cuda
