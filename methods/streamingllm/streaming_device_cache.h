#pragma once
// StreamingLLM on the CUDA backend: the CPU StreamingCache's algorithm (streaming_cache.h) over device memory, with
// the same slot bookkeeping (streaming_plan.h), FP16 storage only. Keys are stored pre-RoPE; at every attention the
// held keys are converted to F32 and rotated at their in-cache positions into a scratch of at most
// sinks + window rows, values converted likewise, and the F32 partial-attention kernel reads them: the CPU's
// block-by-block path done in one piece (the scratch is bounded by the cache size, not by the text).
// Bytes: 4·head_dim per held token-head, as the CPU's fp16 storage.
#if defined(BENCH_HAVE_CUDA)
#include <vector>

#include "harness/runtime/cuda/device_kv_cache_base.h"
#include "methods/streamingllm/streaming_cache.h"

namespace bp::methods::streamingllm {

class DeviceStreamingCache : public rt::cuda::DeviceKvCacheBase {
 public:
  DeviceStreamingCache(const rt::DeviceGeometry& g, const Config& c);
  rt::KvBytes bytes() const override;
  size_t bytes_allocated() const override;  // the slots' device buffers (the F32 scratch is working memory)
  void reset() override;
  nlohmann::json stats() const override;  // the CPU cache's keys

 protected:
  bool keys_stored_rotated() const override { return false; }
  const int32_t* prepare(const rt::DeviceAttnBatch& b) override;
  int64_t stored_len(int layer, int) const override { return len_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) override;

 private:
  struct Slots {
    kern::cuda::DeviceBuffer k, v;  // cap rows of head_dim halves, pre-RoPE keys
    int64_t cap = 0;
  };
  Slots& slots(int layer, int h) { return slots_[(size_t)layer * g_.n_kv_heads + h]; }
  const Slots& slots(int layer, int h) const { return slots_[(size_t)layer * g_.n_kv_heads + h]; }
  void reserve(Slots& s, int64_t rows, int64_t keep, void* stream);
  // F32 rows x (row i at x + i·stride) -> FP16 slots [slot, slot + n) of (layer, every KV head).
  void write(int layer, const float* k, const float* v, int64_t stride, int64_t slot, int64_t n, void* stream);

  Config cfg_;
  std::vector<int64_t> len_, head_;  // per layer: held tokens, ring head
  std::vector<Slots> slots_;
  std::vector<int32_t> host_pos_;
  kern::cuda::DeviceBuffer new_pos_, slot_pos_;
  mutable kern::cuda::DeviceBuffer kf_, vf_;  // F32 scratch: rotated keys, values
  int64_t arrived_ = 0, evicted_ = 0;
};

}  // namespace bp::methods::streamingllm
#endif  // BENCH_HAVE_CUDA
