// Packed decode attention on the device ("flash decoding"): the token range is cut into slices of kSlice tokens,
// one thread block per slice computes the partial state (max, sum, acc) of up to kRows query rows over its slice,
// reading each packed element once for all rows (kv_dequant, the shared BP_HD definition), and a second kernel
// merges the slices' partials with the log-sum-exp rule. More than kRows rows run as several launches.
// Keys and values are read through split_rows_get (kernels/common/kv_split_rows.h), so the same kernel serves a
// fully packed store (packed_attention) and a split one whose newest tokens are FP16 rows (split_attention: KIVI's
// residual, per-channel groups still filling).
#include <cmath>
#include <string>

#include "kernels/common/kv_layout.h"
#include "kernels/common/kv_split_rows.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {

constexpr int kSlice = 256;  // tokens per block = threads per block
constexpr int kRows = 16;    // query rows per launch
constexpr int kMaxD = 256;

// Partial state of rows [0, m) over tokens [t0 + b·kSlice, ...) of [t0, t1): part_* [block][row] (acc [..][D]).
__global__ void slice_partials(const float* q, int64_t q_stride, int m, SplitRowsRef k, SplitRowsRef v, int64_t t0,
                               int64_t t1,
                               float* part_max, float* part_sum, float* part_acc) {
  __shared__ float qs[kRows * kMaxD];
  __shared__ float p[kRows][kSlice];
  const int D = k.packed.layout.head_dim;
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
      const float kd = split_rows_get(k, t, d);
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
      const float vd = split_rows_get(v, s0 + i, d);
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

void check_layouts(const KvLayout& kl, const KvLayout& vl, const char* who) {
  auto fail = [who](const std::string& w) { throw std::invalid_argument(std::string(who) + ": " + w); };
  if (kl.role != KvRole::Keys || vl.role != KvRole::Values) fail("k must be keys, v values");
  if (kl.head_dim != vl.head_dim) fail("keys and values differ in head_dim");
  if (const char* e = kv_layout_error(kl)) fail(e);
  if (const char* e = kv_layout_error(vl)) fail(e);
  if (kl.head_dim > kMaxD) fail("head_dim above 256");
}

// Partial state of m rows over tokens [t0, t1) of k and v (both readable there), launched on the default stream.
void attend_range(const float* q, int64_t q_stride, int m, const SplitRowsRef& k, const SplitRowsRef& v, int64_t t0,
                  int64_t t1, float* out_max, float* out_sum, float* out_acc) {
  const int D = k.packed.layout.head_dim;
  if (m <= 0) return;
  if (t1 <= t0) {
    empty_rows<<<(unsigned)((int64_t)m * D / 256 + 1), 256>>>(m, D, out_max, out_sum, out_acc);
    BP_CUDA_CHECK_LAUNCH();
    return;
  }
  const int blocks = (int)((t1 - t0 + kSlice - 1) / kSlice);
  DeviceBuffer pmax((size_t)blocks * kRows * sizeof(float)), psum((size_t)blocks * kRows * sizeof(float)),
      pacc((size_t)blocks * kRows * D * sizeof(float));
  for (int r0 = 0; r0 < m; r0 += kRows) {
    const int mr = m - r0 < kRows ? m - r0 : kRows;
    slice_partials<<<blocks, kSlice>>>(q + r0 * q_stride, q_stride, mr, k, v, t0, t1, pmax.as<float>(),
                                       psum.as<float>(), pacc.as<float>());
    BP_CUDA_CHECK_LAUNCH();
    merge_partials<<<mr, 128>>>(blocks, D, pmax.as<float>(), psum.as<float>(), pacc.as<float>(), out_max + r0,
                                out_sum + r0, out_acc + (int64_t)r0 * D);
    BP_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void packed_attention(const PackedAttnArgs& a) {
  const int64_t t1 = a.t1 < 0 ? a.k.tokens : a.t1;
  check_layouts(a.k.layout, a.v.layout, "cuda::packed_attention");
  if (a.t0 < 0 || t1 > a.k.tokens || t1 > a.v.tokens)
    throw std::invalid_argument("cuda::packed_attention: token range outside the stores");
  SplitRowsRef k, v;
  k.packed = a.k;
  v.packed = a.v;
  attend_range(a.q, a.q_stride, a.m, k, v, a.t0, t1, a.out_max, a.out_sum, a.out_acc);
}

void split_attention(const float* q, int64_t q_stride, int m, const SplitRowsRef& k, const SplitRowsRef& v,
                     float* out_max, float* out_sum, float* out_acc) {
  check_layouts(k.packed.layout, v.packed.layout, "cuda::split_attention");
  if (k.tokens() != v.tokens()) throw std::invalid_argument("cuda::split_attention: keys and values differ in tokens");
  if ((k.f16_rows > 0 && !k.f16) || (v.f16_rows > 0 && !v.f16) || k.f16_rows < 0 || v.f16_rows < 0)
    throw std::invalid_argument("cuda::split_attention: FP16 rows without a pointer");
  attend_range(q, q_stride, m, k, v, 0, k.tokens(), out_max, out_sum, out_acc);
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
