#pragma once
// ZipCache on the CUDA backend: the CPU ZipCache's algorithm (zipcache_cache.h) with the packed stores, the FP16
// decode buffer and every re-quantization on the device, and the class decisions on the host with the functions the
// CPU cache uses (probe_rows, zipcache_classes). Per (layer, KV head): four DevicePackedStores in MixedKvStore's
// layouts (keys per-channel over all tokens of a class, values channel-separable tokenwise with the shared
// normalizer c_d), the normalizer (D halves), the class of every compressed token (host), and the buffer.
// Storage order (what attention and observations index): high-class tokens in time order, then low-class ones,
// then the buffer; observed column sums are put back in time order on the host before the decision.
// A compression step rebuilds the whole cache on the device as the CPU does: both classes dequantized and scattered
// back to time order, the buffer converted, the new tokens appended (F32 scratch of T rows per head, freed by the
// next step's reuse), c_d over all T tokens, and both classes quantized from their rows (row-index lists).
// Bytes: as the CPU: codes, scales and mins of the four stores, c_d (D FP16) and the class bitmap
// (ceil(C/64) 64-bit words) while tokens are compressed, the buffer as window.
#if defined(BENCH_HAVE_CUDA)
#include <vector>

#include "harness/runtime/cuda/device_half_rows.h"
#include "harness/runtime/cuda/device_kv_cache_base.h"
#include "harness/runtime/cuda/device_packed_store.h"
#include "methods/zipcache/zipcache_cache.h"

namespace bp::methods::zipcache {

class DeviceZipCache : public rt::cuda::DeviceKvCacheBase {
 public:
  DeviceZipCache(const rt::DeviceGeometry& g, const Config& c);
  rt::KvBytes bytes() const override;
  // The four packed stores', the normalizer's and the FP16 buffer's device buffers plus the host class list (the
  // F32 rebuild scratch is working memory, not counted).
  size_t bytes_allocated() const override;
  void reset() override;
  nlohmann::json stats() const override;  // the CPU cache's keys

 protected:
  const int32_t* prepare(const rt::DeviceAttnBatch& b) override;
  std::vector<int32_t> observe_rows(const rt::DeviceAttnBatch& b) const override;
  int64_t stored_len(int layer, int kv_head) const override;
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void observe_stored(int layer, int kv_head, const float* q, int64_t q_stride, const int32_t* rows, int m,
                      const float* row_max, const float* row_sum, float* col, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) override;

 private:
  struct Head {
    rt::cuda::DevicePackedStore k_hi, v_hi, k_lo, v_lo;
    kern::cuda::DeviceBuffer norms;  // c_d, D halves
    rt::cuda::DeviceHalfRows bk, bv;
    std::vector<uint8_t> high;       // class of each compressed token, time order (host)
    int64_t n_hi = 0, n_lo = 0;
  };
  Head& head(int layer, int h) { return heads_[(size_t)layer * g_.n_kv_heads + h]; }
  const Head& head(int layer, int h) const { return heads_[(size_t)layer * g_.n_kv_heads + h]; }
  kern::SplitRowsRef rows(const Head& hd, bool keys) const;
  // Observation (storage order) -> time order.
  std::vector<float> in_time_order(const Head& hd, const std::vector<float>& obs) const;
  // Re-quantizes compressed + buffered + the call's n tokens of one head (k/v: row i at + i·stride) with `high`.
  void rebuild(Head& hd, const float* k, const float* v, int64_t stride, int n, const std::vector<uint8_t>& high,
               void* stream);
  std::vector<int32_t> probes(int layer, int n) const;

  Config cfg_;
  std::vector<Head> heads_;
  rt::Phase phase_ = rt::Phase::Prefill;
  int64_t recompressions_ = 0, prefill_compressions_ = 0;
  int last_probe_rows_ = 0;
  kern::cuda::DeviceBuffer kx_, vx_, ky_, vy_, idx_;  // F32 scratch (dequantized classes, time order), indices
};

}  // namespace bp::methods::zipcache
#endif  // BENCH_HAVE_CUDA
