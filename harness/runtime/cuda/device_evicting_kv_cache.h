#pragma once
// The device base of eviction methods (H2O, SnapKV): post-RoPE keys and values as FP16 rows, per layer one buffer
// [n_kv_heads][capacity][head_dim] per side, read by the F16 attention kernel, and observable (column sums of
// attention probabilities, DeviceKvCacheBase). After every call the new tokens are appended and the method's
// decide() says which of the S stored + n new tokens stay (on the host, from the downloaded observation, with the
// same decision functions as the CPU cache); the survivors are gathered, in ascending order (kept stored tokens in
// store order, then kept new tokens in call order): one gather launch per layer and side instead of the CPU's slot
// reuse, since a device copy of a few hundred rows costs less than a launch per moved row. Every KV head of a layer
// keeps the same number of tokens (both methods' budgets are per head and equal).
// Memory: after an eviction the store holds, and allocates, only what is kept. When the buffers are much larger
// than the kept rows (after a prefill that was cut to a budget) the survivors are gathered into new buffers sized
// for them (plus 1/8 and a 16-row quantum of room for the next calls) and the old ones are freed; otherwise (a
// decode step that evicts as many as it adds) they are gathered into one scratch buffer shared by all layers,
// sized for one side of one layer's KEPT rows, and copied back, so no buffer of the prompt's size survives.
// Growth is bounded (kernels/common/buffer_capacity.h), not doubling.
// Bytes: payload 4·head_dim per held token-head (as the CPU's fp16 storage); the method adds its side data.
// bytes_allocated(): the two row buffers of every layer (the gather scratch and index list are working memory,
// reported by the session's peak device memory).
#include <vector>

#include "harness/runtime/cuda/device_kv_cache_base.h"

namespace bp::rt::cuda {

class DeviceEvictingKvCache : public DeviceKvCacheBase {
 public:
  explicit DeviceEvictingKvCache(const DeviceGeometry& g);
  KvBytes bytes() const override;
  size_t bytes_allocated() const override;
  void reset() override;

  // Ascending indices of the set flags: the kept tokens, in the order they are stored after a call.
  static std::vector<int32_t> kept_indices(const std::vector<uint8_t>& keep);

 protected:
  // For every KV head of `layer`, the tokens that stay among its S stored (store order) + n new ones, ascending
  // (kept_indices of the method's keep flags), or an empty vector to keep everything. Called in store(), after
  // observation() is filled; phase() and new_positions() describe the call.
  virtual std::vector<std::vector<int32_t>> decide(int layer, int64_t S, int n) = 0;
  Phase phase() const { return phase_; }
  const int32_t* new_positions() const { return pos_host_; }  // host [n]

  const int32_t* prepare(const DeviceAttnBatch& b) override;
  int64_t stored_len(int layer, int) const override { return len_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void observe_stored(int layer, int kv_head, const float* q, int64_t q_stride, const int32_t* rows, int m,
                      const float* row_max, const float* row_sum, float* col, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) final;

 private:
  struct Layer {
    kern::cuda::DeviceBuffer k, v;  // [n_kv_heads][cap][head_dim] halves
    int64_t cap = 0;
  };
  const uint16_t* rows(const Layer& L, bool keys, int h) const;
  // Moves the first `keep` rows of every head into buffers of `cap` rows per head (freeing the old ones).
  void reallocate(Layer& L, int64_t cap, int64_t keep, void* stream);
  // Keeps rows idx (device, [n_kv_heads][kept], ascending per head) of every head, in place (see above).
  void compact(Layer& L, int64_t kept, void* stream);

  std::vector<Layer> layers_;
  std::vector<int64_t> len_;
  Phase phase_ = Phase::Prefill;
  const int32_t* pos_host_ = nullptr;
  kern::cuda::DeviceBuffer idx_, gather_;  // kept indices; gather scratch (one side of one layer's kept rows)
};

}  // namespace bp::rt::cuda
