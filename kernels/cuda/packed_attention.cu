// Packed decode attention on the device ("flash decoding"): the token range is cut into slices of kSlice tokens,
// one thread block per slice computes the partial state (max, sum, acc) of up to kRows query rows over its slice,
// reading each packed element once for all rows (kv_dequant, the shared BP_HD definition), and a second kernel
// merges the slices' partials with the log-sum-exp rule. More than kRows rows run as several launches.
#include <cmath>
#include <string>

#include "kernels/common/kv_layout.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {

constexpr int kSlice = 256;  // tokens per block = threads per block
constexpr int kRows = 16;    // query rows per launch
constexpr int kMaxD = 256;

// Partial state of rows [0, m) over tokens [t0 + b·kSlice, ...) of [t0, t1): part_* [block][row] (acc [..][D]).
__global__ void slice_partials(const float* q, int64_t q_stride, int m, PackedKv k, PackedKv v, int64_t t0, int64_t t1,
                               float* part_max, float* part_sum, float* part_acc) {
  __shared__ float qs[kRows * kMaxD];
  __shared__ float p[kRows][kSlice];
  const int D = k.layout.head_dim;
  const int tid = threadIdx.x;
  const int64_t s0 = t0 + (int64_t)blockIdx.x * kSlice;
  const int64_t s1 = s0 + kSlice < t1 ? s0 + kSlice : t1;
  for (int e = tid; e < m * D; e += blockDim.x) qs[e] = q[(e / D) * q_stride + e % D];
  __syncthreads();

  // Scores: thread = token; each key element is dequantized once and used by every row.
  const int64_t t = s0 + tid;
  float acc[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
  if (t < s1) {
    for (int d = 0; d < D; ++d) {
      const float kd = kv_dequant(k, t, d);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        if (r < m) acc[r] += qs[r * D + d] * kd;
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r)
    if (r < m) p[r][tid] = t < s1 ? acc[r] : -INFINITY;
  __syncthreads();

  // Softmax of the slice: thread r < m owns row r (kSlice scores; small next to the dequantization work).
  const int n = (int)(s1 - s0);
  if (tid < m) {
    float mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = fmaxf(mx, p[tid][i]);
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float e = expf(p[tid][i] - mx);
      p[tid][i] = e;
      sum += e;
    }
    part_max[blockIdx.x * kRows + tid] = mx;
    part_sum[blockIdx.x * kRows + tid] = sum;
  }
  __syncthreads();

  // Weighted values: thread = channel; each value element is dequantized once for every row.
  for (int d = tid; d < D; d += blockDim.x) {
    float o[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) o[r] = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float vd = kv_dequant(v, s0 + i, d);
#pragma unroll
      for (int r = 0; r < kRows; ++r)
        if (r < m) o[r] += p[r][i] * vd;
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      if (r < m) part_acc[((int64_t)blockIdx.x * kRows + r) * D + d] = o[r];
  }
}

// One block per row, one thread per channel: merges `blocks` partials into the output row.
__global__ void merge_partials(int blocks, int D, const float* part_max, const float* part_sum, const float* part_acc,
                               float* out_max, float* out_sum, float* out_acc) {
  const int r = blockIdx.x;
  float mx = -INFINITY;
  for (int b = 0; b < blocks; ++b)
    if (part_sum[b * kRows + r] > 0.0f) mx = fmaxf(mx, part_max[b * kRows + r]);
  float sum = 0.0f;
  for (int b = 0; b < blocks; ++b)
    if (part_sum[b * kRows + r] > 0.0f) sum += part_sum[b * kRows + r] * expf(part_max[b * kRows + r] - mx);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float a = 0.0f;
    for (int b = 0; b < blocks; ++b)
      if (part_sum[b * kRows + r] > 0.0f)
        a += part_acc[((int64_t)b * kRows + r) * D + d] * expf(part_max[b * kRows + r] - mx);
    out_acc[(int64_t)r * D + d] = a;
  }
  if (threadIdx.x == 0) {
    out_max[r] = sum > 0.0f ? mx : -INFINITY;
    out_sum[r] = sum;
  }
}

__global__ void empty_rows(int m, int D, float* out_max, float* out_sum, float* out_acc) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (int64_t)m * D; e += (int64_t)gridDim.x * blockDim.x) {
    out_acc[e] = 0.0f;
    if (e % D == 0) {
      out_max[e / D] = -INFINITY;
      out_sum[e / D] = 0.0f;
    }
  }
}

// Thread per (row, token).
__global__ void scores_kernel(const float* q, int64_t q_stride, int m, PackedKv k, int64_t t0, int64_t t1,
                              float* scores, int64_t score_stride) {
  const int64_t n = t1 - t0;
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= n * m) return;
  const int r = (int)(id / n);
  const int64_t t = t0 + id % n;
  float s = 0.0f;
  for (int d = 0; d < k.layout.head_dim; ++d) s += q[r * q_stride + d] * kv_dequant(k, t, d);
  scores[r * score_stride + (t - t0)] = s;
}

void check(const PackedAttnArgs& a, int64_t t1) {
  auto fail = [](const std::string& w) { throw std::invalid_argument("cuda::packed_attention: " + w); };
  if (a.k.layout.role != KvRole::Keys || a.v.layout.role != KvRole::Values) fail("k must be keys, v values");
  if (a.k.layout.head_dim != a.v.layout.head_dim) fail("keys and values differ in head_dim");
  if (const char* e = kv_layout_error(a.k.layout)) fail(e);
  if (const char* e = kv_layout_error(a.v.layout)) fail(e);
  if (a.k.layout.head_dim > kMaxD) fail("head_dim above 256");
  if (a.t0 < 0 || t1 > a.k.tokens || t1 > a.v.tokens) fail("token range outside the stores");
}

}  // namespace

void packed_attention(const PackedAttnArgs& a) {
  const int64_t t1 = a.t1 < 0 ? a.k.tokens : a.t1;
  check(a, t1);
  const int D = a.k.layout.head_dim;
  if (a.m <= 0) return;
  if (t1 <= a.t0) {
    empty_rows<<<(unsigned)((int64_t)a.m * D / 256 + 1), 256>>>(a.m, D, a.out_max, a.out_sum, a.out_acc);
    BP_CUDA_CHECK_LAUNCH();
    return;
  }
  const int blocks = (int)((t1 - a.t0 + kSlice - 1) / kSlice);
  DeviceBuffer pmax((size_t)blocks * kRows * sizeof(float)), psum((size_t)blocks * kRows * sizeof(float)),
      pacc((size_t)blocks * kRows * D * sizeof(float));
  for (int r0 = 0; r0 < a.m; r0 += kRows) {
    const int m = a.m - r0 < kRows ? a.m - r0 : kRows;
    slice_partials<<<blocks, kSlice>>>(a.q + r0 * a.q_stride, a.q_stride, m, a.k, a.v, a.t0, t1, pmax.as<float>(),
                                       psum.as<float>(), pacc.as<float>());
    BP_CUDA_CHECK_LAUNCH();
    merge_partials<<<m, 128>>>(blocks, D, pmax.as<float>(), psum.as<float>(), pacc.as<float>(), a.out_max + r0,
                               a.out_sum + r0, a.out_acc + (int64_t)r0 * D);
    BP_CUDA_CHECK_LAUNCH();
  }
}

void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride) {
  if (const char* e = kv_layout_error(k.layout)) throw std::invalid_argument(std::string("cuda::packed_scores: ") + e);
  if (t0 < 0 || t1 > k.tokens) throw std::invalid_argument("cuda::packed_scores: token range outside the store");
  if (t1 <= t0 || m <= 0) return;
  const int64_t jobs = (t1 - t0) * m;
  scores_kernel<<<(unsigned)((jobs + 255) / 256), 256>>>(q, q_stride, m, k, t0, t1, scores, score_stride);
  BP_CUDA_CHECK_LAUNCH();
}

}  // namespace bp::kern::cuda
