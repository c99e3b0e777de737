#pragma once
// Host wrappers of the CUDA twins of the KV kernels (kernels/cuda/*.cu). Plain C++: compiles without nvcc; the
// functions exist only in builds with the CUDA backend (BENCH_HAVE_CUDA, link bench_cuda).
// Every pointer inside the argument structs is a DEVICE pointer (allocate with DeviceBuffer or cudaMalloc); the
// layouts are byte-for-byte those of kernels/common/kv_layout.h, so a store quantized on the device can be copied
// to the host and read by the CPU kernels and vice versa. Calls are launched on the default stream and are
// synchronous with respect to it; every CUDA error throws std::runtime_error("file:line: <cudaGetErrorString>").
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/common/kv_layout.h"
#include "kernels/common/kv_split_rows.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::kern::cuda {

#if defined(BENCH_HAVE_CUDA)

// True when a CUDA device can be used; otherwise false and *why = cudaGetErrorString of the failure.
bool device_available(std::string* why = nullptr);

// Owning device allocation (bytes), with host copies.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  void* get() const { return p_; }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }
  size_t size() const { return n_; }
  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;
  void zero();

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

// FP16 conversions of device arrays (round to nearest even, identical to kernels/common/fp16.h).
void f32_to_f16_array(const float* src, uint16_t* dst, size_t n);
void f16_to_f32_array(const uint16_t* src, float* dst, size_t n);

// Same contracts as the CPU functions of kernels/cpu/kv_quant.h (codes and stats bit-identical to them).
void kv_quantize(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                 const int32_t* row_index = nullptr);
void kv_dequantize(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride);
void kv_channel_norms(const float* x, int64_t x_stride, int n, int head_dim, uint16_t* norms);

// Same contracts as kernels/cpu/packed_attention.h and kernels/cpu/attention_f32.h.
void packed_attention(const PackedAttnArgs& a);
void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride);
void attention_partial_f32(const AttnF32Args& a);

// Partial attention (the packed_attention contract) of m rows over every token of a split store: keys and values
// each packed up to their own split point and FP16 rows after it (kernels/common/kv_split_rows.h). k and v must
// hold the same number of tokens.
void split_attention(const float* q, int64_t q_stride, int m, const SplitRowsRef& k, const SplitRowsRef& v,
                     float* out_max, float* out_sum, float* out_acc);

// Observations (kernels/cuda/attention_probs.cu; the CPU contract of kernels/cpu/attention_probs.h):
// final row statistics of m rows from two partials (either may be empty: sum 0);
void merge_row_stats(int m, const float* a_max, const float* a_sum, const float* b_max, const float* b_sum,
                     float* max, float* sum);
// The observed rows are a list: observed row i is query row r = rows[i] (device int32 [m]) at q + r·q_stride, with
// final statistics row_max[r], row_sum[r] (rows that attended nothing, sum 0, add nothing).
// col[j] += Σ_i p(rows[i], j) over every token j of a split store (no mask);
void column_probs_split(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                        const float* row_sum, const SplitRowsRef& k, float* col);
// the same over T F32 keys (key j at k + j·k_stride) with causality: query row r sees key j iff j <= r + causal_offset.
void column_probs_f32(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                      const float* row_sum, const float* k, int64_t k_stride, int T, int head_dim,
                      int64_t causal_offset, float* col);

#endif  // BENCH_HAVE_CUDA

}  // namespace bp::kern::cuda
