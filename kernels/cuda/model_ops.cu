// CUDA kernels of the forward pass (see model_ops.h). The per-element arithmetic comes from kernels/common so the CPU
// reference and these kernels compute the same thing; parity is checked by tests/cuda when a GPU is present.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <stdexcept>
#include <string>

#include "kernels/common/activation_math.h"
#include "kernels/common/fp16.h"
#include "kernels/common/rope_math.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cuda/model_ops.h"

namespace bp::kern::cuda {

namespace {

void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorString(e));
}

void check_blas(cublasStatus_t st, const char* what, const char* file, int line) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cublasGetStatusString(st));
}

#define BP_CUDA(expr) check((expr), #expr, __FILE__, __LINE__)
#define BP_CUBLAS(expr) check_blas((expr), #expr, __FILE__, __LINE__)
// A kernel launch: configuration errors surface at cudaGetLastError.
#define BP_LAUNCHED() check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

cudaStream_t st(Stream s) { return static_cast<cudaStream_t>(s); }

inline unsigned blocks_for(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

// ---- kernels ---------------------------------------------------------------------------------------------------

__global__ void k_embed(const uint16_t* table, const int32_t* tokens, int n, int d, float* out) {
  const int i = blockIdx.x;
  const uint16_t* row = table + (size_t)tokens[i] * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x) out[(size_t)i * d + j] = f16_to_f32(row[j]);
}

__global__ void k_gather_rows_f16(const uint16_t* src, int64_t src_head_stride, const int32_t* idx, int rows, int D,
                                  uint16_t* dst, int64_t dst_head_stride) {
  const int h = blockIdx.y;
  const int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (e >= (int64_t)rows * D) return;
  const int64_t j = e / D;
  const int d = (int)(e % D);
  dst[h * dst_head_stride + j * D + d] = src[h * src_head_stride + (int64_t)idx[(int64_t)h * rows + j] * D + d];
}

__global__ void k_copy_rows_f32(const float* src, int64_t src_stride, const int32_t* idx, int rows, int D, float* dst,
                                int64_t dst_stride) {
  const int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (e >= (int64_t)rows * D) return;
  const int64_t j = e / D;
  const int d = (int)(e % D);
  dst[j * dst_stride + d] = src[(idx ? (int64_t)idx[j] : j) * src_stride + d];
}

// Block-wide sum (blockDim.x a multiple of 32, at most 1024).
__device__ float block_sum(float v) {
  __shared__ float warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = (threadIdx.x < warps) ? warp_sums[threadIdx.x] : 0.0f;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __shared__ float total;
  if (threadIdx.x == 0) total = v;
  __syncthreads();
  return total;
}

__global__ void k_rmsnorm(const float* x, int d, const float* w, float eps, float* y) {
  const float* xr = x + (size_t)blockIdx.x * d;
  float ss = 0.0f;
  for (int j = threadIdx.x; j < d; j += blockDim.x) ss += xr[j] * xr[j];
  const float inv = rms_inv(block_sum(ss), d, eps);
  for (int j = threadIdx.x; j < d; j += blockDim.x) y[(size_t)blockIdx.x * d + j] = xr[j] * inv * w[j];
}

// One thread per (row, head, pair j < head_dim/2).
__global__ void k_rope(float* x, int n, int heads, int head_dim, const int32_t* pos, const float* inv_freq,
                       float scale) {
  const int half = head_dim / 2;
  const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  const size_t total = (size_t)n * heads * half;
  if (idx >= total) return;
  const int j = (int)(idx % half);
  const size_t rh = idx / half;  // row * heads + head
  const int row = (int)(rh / heads);
  float* v = x + rh * head_dim;
  // float32 angle, as the CPU table (harness/runtime/rope.cpp) computes it.
  const float angle = (float)pos[row] * inv_freq[j];
  float sn, cs;
  sincosf(angle, &sn, &cs);
  float lo = v[j], hi = v[j + half];
  rope_rotate_pair(lo, hi, cs, sn);
  v[j] = lo * scale;
  v[j + half] = hi * scale;
}

__global__ void k_swiglu(const float* g, const float* u, size_t n, float* out) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = swiglu_one(g[i], u[i]);
}

__global__ void k_add(float* x, const float* y, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void k_to_f16(const float* x, uint16_t* y, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = f32_to_f16(x[i]);
}

__global__ void k_to_f16_strided(const float* x, int64_t xs, int rows, int cols, uint16_t* y, int64_t ys) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (size_t)rows * cols) return;
  const int r = (int)(i / cols), c = (int)(i % cols);
  y[(int64_t)r * ys + c] = f32_to_f16(x[(int64_t)r * xs + c]);
}

__global__ void k_add_bias(float* y, const float* bias, int M, int N) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < (size_t)M * N) y[i] += bias[i % N];
}

// One block per query row; threads stride over keys, each keeping its own online-softmax state over its keys, then
// the block merges the per-thread states with the shared merge rule. head_dim <= 256.
constexpr int kAttnThreads = 128;
constexpr int kMaxHeadDim = 256;

__global__ void k_attention_f16(const float* q, int64_t q_stride, const uint16_t* k, const uint16_t* v,
                                int64_t kv_stride, int T, int D, float* out_max, float* out_sum, float* out_acc) {
  __shared__ float qs[kMaxHeadDim];
  __shared__ float s_max[kAttnThreads], s_sum[kAttnThreads];
  extern __shared__ float s_acc[];  // [kAttnThreads][D]
  const int row = blockIdx.x, t = threadIdx.x;
  for (int d = t; d < D; d += blockDim.x) qs[d] = q[(int64_t)row * q_stride + d];
  __syncthreads();
  float mx = -INFINITY, sum = 0.0f;
  float* acc = s_acc + (size_t)t * D;
  for (int d = 0; d < D; ++d) acc[d] = 0.0f;
  for (int j = t; j < T; j += blockDim.x) {
    const uint16_t* kr = k + (int64_t)j * kv_stride;
    const uint16_t* vr = v + (int64_t)j * kv_stride;
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += qs[d] * f16_to_f32(kr[d]);
    const float m_new = fmaxf(mx, s);
    const float c_old = expf(mx - m_new), c_new = expf(s - m_new);
    sum = sum * c_old + c_new;
    for (int d = 0; d < D; ++d) acc[d] = acc[d] * c_old + c_new * f16_to_f32(vr[d]);
    mx = m_new;
  }
  s_max[t] = mx;
  s_sum[t] = sum;
  __syncthreads();
  // Tree merge of the per-thread partial states.
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < stride)
      merge_partial_row(s_max[t], s_sum[t], s_acc + (size_t)t * D, s_max[t + stride], s_sum[t + stride],
                        s_acc + (size_t)(t + stride) * D, D);
    __syncthreads();
  }
  if (t == 0) {
    out_max[row] = s_sum[0] > 0.0f ? s_max[0] : -INFINITY;
    out_sum[row] = s_sum[0];
  }
  for (int d = t; d < D; d += blockDim.x) out_acc[(size_t)row * D + d] = s_acc[d];
}

__global__ void k_merge_normalize(int m, int D, const float* a_max, const float* a_sum, const float* a_acc,
                                  const float* b_max, const float* b_sum, const float* b_acc, const int32_t* out_index,
                                  float* out) {
  const int r = blockIdx.x;
  if (r >= m) return;
  // Scalar merge per row by thread 0 into registers would serialize D; instead each thread handles some d with the
  // row's coefficients computed redundantly (cheap).
  const float am = a_max[r], as = a_sum[r], bm = b_max[r], bs = b_sum[r];
  float ca = 0.0f, cb = 0.0f, total = 0.0f;
  if (as > 0.0f && bs > 0.0f) {
    const float mx = fmaxf(am, bm);
    ca = expf(am - mx);
    cb = expf(bm - mx);
    total = as * ca + bs * cb;
  } else if (as > 0.0f) {
    ca = 1.0f;
    total = as;
  } else if (bs > 0.0f) {
    cb = 1.0f;
    total = bs;
  }
  const float inv = total > 0.0f ? 1.0f / total : 0.0f;
  float* o = out + (size_t)out_index[r] * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x)
    o[d] = (a_acc[(size_t)r * D + d] * ca + b_acc[(size_t)r * D + d] * cb) * inv;
}

__global__ void k_argmax(const float* logits, int V, int32_t* out) {
  const float* row = logits + (size_t)blockIdx.x * V;
  float best = -INFINITY;
  int idx = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x)
    if (row[j] > best) {
      best = row[j];
      idx = j;
    }
  __shared__ float sb[256];
  __shared__ int si[256];
  sb[threadIdx.x] = best;
  si[threadIdx.x] = idx;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float ob = sb[threadIdx.x + stride];
      const int oi = si[threadIdx.x + stride];
      if (ob > sb[threadIdx.x] || (ob == sb[threadIdx.x] && oi < si[threadIdx.x])) {
        sb[threadIdx.x] = ob;
        si[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = si[0];
}

}  // namespace

// ---- host wrappers ---------------------------------------------------------------------------------------------

Stream stream_create() {
  cudaStream_t s;
  BP_CUDA(cudaStreamCreate(&s));
  return s;
}
void stream_destroy(Stream s) { BP_CUDA(cudaStreamDestroy(st(s))); }
void stream_sync(Stream s) { BP_CUDA(cudaStreamSynchronize(st(s))); }

BlasHandle blas_create(Stream s) {
  cublasHandle_t h;
  BP_CUBLAS(cublasCreate(&h));
  BP_CUBLAS(cublasSetStream(h, st(s)));
  return h;
}
void blas_destroy(BlasHandle h) { BP_CUBLAS(cublasDestroy(static_cast<cublasHandle_t>(h))); }

EventPair events_create() {
  cudaEvent_t a, b;
  BP_CUDA(cudaEventCreate(&a));
  BP_CUDA(cudaEventCreate(&b));
  return {a, b};
}
void events_destroy(EventPair e) {
  BP_CUDA(cudaEventDestroy(static_cast<cudaEvent_t>(e.start)));
  BP_CUDA(cudaEventDestroy(static_cast<cudaEvent_t>(e.stop)));
}
void event_record(void* event, Stream s) { BP_CUDA(cudaEventRecord(static_cast<cudaEvent_t>(event), st(s))); }
float events_elapsed_ms(EventPair e) {
  BP_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(e.stop)));
  float ms = 0.0f;
  BP_CUDA(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(e.start), static_cast<cudaEvent_t>(e.stop)));
  return ms;
}

void memcpy_h2d(void* dst, const void* src, size_t bytes, Stream s) {
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st(s)));
}
void memcpy_d2h(void* dst, const void* src, size_t bytes, Stream s) {
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st(s)));
  BP_CUDA(cudaStreamSynchronize(st(s)));
}
void memcpy_d2d(void* dst, const void* src, size_t bytes, Stream s) {
  BP_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, st(s)));
}
void mem_info(size_t* free_bytes, size_t* total_bytes) { BP_CUDA(cudaMemGetInfo(free_bytes, total_bytes)); }

std::string device_name() {
  int dev = 0;
  BP_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p;
  BP_CUDA(cudaGetDeviceProperties(&p, dev));
  return p.name;
}

double peak_bandwidth_bytes_per_s() {
  int dev = 0, clock_khz = 0, bus_bits = 0;
  BP_CUDA(cudaGetDevice(&dev));
  BP_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev));
  BP_CUDA(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev));
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0);
}

void embed_rows(const uint16_t* table, const int32_t* tokens, int n, int d, float* out, Stream s) {
  if (n <= 0) return;
  k_embed<<<n, 256, 0, st(s)>>>(table, tokens, n, d, out);
  BP_LAUNCHED();
}

void rmsnorm_rows(const float* x, int n, int d, const float* w, float eps, float* y, Stream s) {
  if (n <= 0) return;
  k_rmsnorm<<<n, 256, 0, st(s)>>>(x, d, w, eps, y);
  BP_LAUNCHED();
}

void rope_rows(float* x, int n, int heads, int head_dim, const int32_t* pos, const float* inv_freq, float scale,
               Stream s) {
  const size_t total = (size_t)n * heads * (head_dim / 2);
  if (!total) return;
  k_rope<<<blocks_for(total, 256), 256, 0, st(s)>>>(x, n, heads, head_dim, pos, inv_freq, scale);
  BP_LAUNCHED();
}

void swiglu(const float* gate, const float* up, size_t n, float* out, Stream s) {
  if (!n) return;
  k_swiglu<<<blocks_for(n, 256), 256, 0, st(s)>>>(gate, up, n, out);
  BP_LAUNCHED();
}

void add_inplace(float* x, const float* y, size_t n, Stream s) {
  if (!n) return;
  k_add<<<blocks_for(n, 256), 256, 0, st(s)>>>(x, y, n);
  BP_LAUNCHED();
}

void to_f16(const float* x, uint16_t* y, size_t n, Stream s) {
  if (!n) return;
  k_to_f16<<<blocks_for(n, 256), 256, 0, st(s)>>>(x, y, n);
  BP_LAUNCHED();
}

void to_f16_strided(const float* x, int64_t x_stride, int rows, int cols, uint16_t* y, int64_t y_stride, Stream s) {
  const size_t n = (size_t)rows * cols;
  if (!n) return;
  k_to_f16_strided<<<blocks_for(n, 256), 256, 0, st(s)>>>(x, x_stride, rows, cols, y, y_stride);
  BP_LAUNCHED();
}

void zero(void* p, size_t bytes, Stream s) {
  if (bytes) BP_CUDA(cudaMemsetAsync(p, 0, bytes, st(s)));
}

void gemm_f16(BlasHandle h, const uint16_t* x, int M, int K, const uint16_t* w, int N, const float* bias, float* y,
              Stream s) {
  // Row-major Y[M][N] = X[M][K]·W[N][K]ᵀ is column-major Yᵀ (N×M) = op(W)·Xᵀ with W read as a K×N column-major
  // matrix transposed.
  const float alpha = 1.0f, beta = 0.0f;
  BP_CUBLAS(cublasGemmEx(static_cast<cublasHandle_t>(h), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w, CUDA_R_16F, K,
                         x, CUDA_R_16F, K, &beta, y, CUDA_R_32F, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  if (bias) {
    k_add_bias<<<blocks_for((size_t)M * N, 256), 256, 0, st(s)>>>(y, bias, M, N);
    BP_LAUNCHED();
  }
}

void attention_partial_f16(const float* q, int64_t q_stride, int m, const uint16_t* k, const uint16_t* v,
                           int64_t kv_stride, int T, int head_dim, float* out_max, float* out_sum, float* out_acc,
                           Stream s) {
  if (m <= 0) return;
  if (head_dim > kMaxHeadDim) throw std::invalid_argument("attention_partial_f16: head_dim > 256");
  const size_t shmem = (size_t)kAttnThreads * head_dim * sizeof(float);
  if (shmem > 48 * 1024)
    BP_CUDA(cudaFuncSetAttribute(k_attention_f16, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shmem));
  k_attention_f16<<<m, kAttnThreads, shmem, st(s)>>>(q, q_stride, k, v, kv_stride, T, head_dim, out_max, out_sum,
                                                      out_acc);
  BP_LAUNCHED();
}

void copy_rows_f32(const float* src, int64_t src_stride, const int32_t* idx, int rows, int D, float* dst,
                   int64_t dst_stride, Stream s) {
  if (rows <= 0) return;
  k_copy_rows_f32<<<blocks_for((size_t)rows * D, 256), 256, 0, st(s)>>>(src, src_stride, idx, rows, D, dst, dst_stride);
  BP_LAUNCHED();
}

void gather_rows_f16(const uint16_t* src, int64_t src_head_stride, const int32_t* idx, int heads, int rows, int D,
                     uint16_t* dst, int64_t dst_head_stride, Stream s) {
  if (heads <= 0 || rows <= 0) return;
  const dim3 grid(blocks_for((size_t)rows * D, 256), (unsigned)heads);
  k_gather_rows_f16<<<grid, 256, 0, st(s)>>>(src, src_head_stride, idx, rows, D, dst, dst_head_stride);
  BP_LAUNCHED();
}

void merge_normalize(int m, int head_dim, const float* a_max, const float* a_sum, const float* a_acc,
                     const float* b_max, const float* b_sum, const float* b_acc, const int32_t* out_index, float* out,
                     Stream s) {
  if (m <= 0) return;
  k_merge_normalize<<<m, 64, 0, st(s)>>>(m, head_dim, a_max, a_sum, a_acc, b_max, b_sum, b_acc, out_index, out);
  BP_LAUNCHED();
}

void argmax_rows(const float* logits, int rows, int V, int32_t* out, Stream s) {
  if (rows <= 0) return;
  k_argmax<<<rows, 256, 0, st(s)>>>(logits, V, out);
  BP_LAUNCHED();
}

}  // namespace bp::kern::cuda
