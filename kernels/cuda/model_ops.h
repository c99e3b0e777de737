#pragma once
// Host wrappers of the CUDA kernels of the model's forward pass (kernels/cuda/model_ops.cu): embedding lookup,
// RMSNorm, RoPE, SwiGLU, residual adds, bias, cuBLAS GEMM with FP16 weights, attention over an FP16 KV cache,
// partial-state merging and argmax. Plain C++ (compiles without nvcc); exists only in builds with the CUDA
// backend. Every pointer is a DEVICE pointer; the per-element math is kernels/common/*_math.h (shared with the CPU
// reference, where it is unit-tested). All calls run on `stream` and check every CUDA/cuBLAS status, throwing
// std::runtime_error("file:line: what: error string").
#include <cstddef>
#include <cstdint>
#include <string>

namespace bp::kern::cuda {

#if defined(BENCH_HAVE_CUDA)

using Stream = void*;  // cudaStream_t
using BlasHandle = void*;  // cublasHandle_t

// Stream / cuBLAS handle / events, owned by the caller (harness/runtime/cuda).
Stream stream_create();
void stream_destroy(Stream s);
void stream_sync(Stream s);
BlasHandle blas_create(Stream s);
void blas_destroy(BlasHandle h);
// Elapsed milliseconds of `fn`-free timing: record an event pair around work enqueued between them.
struct EventPair {
  void* start = nullptr;
  void* stop = nullptr;
};
EventPair events_create();
void events_destroy(EventPair e);
void event_record(void* event, Stream s);
float events_elapsed_ms(EventPair e);  // synchronizes on e.stop

void memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s);
void memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s);  // synchronizes
void memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s);
// Device memory in use and total (cudaMemGetInfo), for peak-memory accounting.
void mem_info(size_t* free_bytes, size_t* total_bytes);
// The current device's name and theoretical DRAM bandwidth (2 · memory clock · bus width), bytes/s.
std::string device_name();
double peak_bandwidth_bytes_per_s();

// out[i][:] = table[tokens[i]][:] (table FP16 [vocab][d], out F32).
void embed_rows(const uint16_t* table, const int32_t* tokens, int n, int d, float* out, Stream s);
// y[i] = x[i] * rms_inv(x[i]) * w   (rows of d floats).
void rmsnorm_rows(const float* x, int n, int d, const float* w, float eps, float* y, Stream s);
// Rotates n rows of `heads` head vectors (rotate_half convention) at positions pos[i], then multiplies by `scale`.
// inv_freq: [head_dim/2] device array.
void rope_rows(float* x, int n, int heads, int head_dim, const int32_t* pos, const float* inv_freq, float scale,
               Stream s);
// out = silu(gate) * up, elementwise (out may alias gate).
void swiglu(const float* gate, const float* up, size_t n, float* out, Stream s);
// x += y
void add_inplace(float* x, const float* y, size_t n, Stream s);
// F32 -> F16 (round to nearest even), elementwise.
void to_f16(const float* x, uint16_t* y, size_t n, Stream s);
// rows x cols F32 (row r at x + r·x_stride) -> F16 (row r at y + r·y_stride).
void to_f16_strided(const float* x, int64_t x_stride, int rows, int cols, uint16_t* y, int64_t y_stride, Stream s);
// cudaMemsetAsync(p, 0, bytes).
void zero(void* p, size_t bytes, Stream s);
// Row gather of FP16 rows (eviction compaction): dst row (h, j) = src row (h, idx[h·rows + j]) for h < heads,
// j < rows; rows of D halves; head h starts at src + h·src_head_stride / dst + h·dst_head_stride (halves).
// src and dst must not overlap.
// F32 rows: dst row j (at dst + j·dst_stride) = src row idx[j] (at src + idx[j]·src_stride), or src row j when idx
// is null (a strided copy); D floats per row. src and dst must not overlap.
void copy_rows_f32(const float* src, int64_t src_stride, const int32_t* idx, int rows, int D, float* dst,
                   int64_t dst_stride, Stream s);
void gather_rows_f16(const uint16_t* src, int64_t src_head_stride, const int32_t* idx, int heads, int rows, int D,
                     uint16_t* dst, int64_t dst_head_stride, Stream s);

// y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]); x and W in FP16, accumulation and y in F32 (cublasGemmEx).
void gemm_f16(BlasHandle h, const uint16_t* x, int M, int K, const uint16_t* w, int N, const float* bias, float* y,
              Stream s);

// Online-softmax partial of m query rows (row i at q + i·q_stride, pre-scaled) over T keys/values stored as FP16
// rows (row t at k/v + t·kv_stride); every key is visible. Output as kernels/common/softmax_math.h.
void attention_partial_f16(const float* q, int64_t q_stride, int m, const uint16_t* k, const uint16_t* v,
                           int64_t kv_stride, int T, int head_dim, float* out_max, float* out_sum, float* out_acc,
                           Stream s);
// For rows r < m: merges (b_max, b_sum, b_acc) into (a_max, a_sum, a_acc) and writes out[r] = acc / sum at
// out + out_index[r]·head_dim (out_index maps partial rows to output rows).
void merge_normalize(int m, int head_dim, const float* a_max, const float* a_sum, const float* a_acc,
                     const float* b_max, const float* b_sum, const float* b_acc, const int32_t* out_index, float* out,
                     Stream s);
// out[r] = index of the largest of row r's V logits (first on ties).
void argmax_rows(const float* logits, int rows, int V, int32_t* out, Stream s);

#endif  // BENCH_HAVE_CUDA

}  // namespace bp::kern::cuda
