// Attention probabilities on the device, for the methods that observe attention (H2O, SnapKV): the CUDA twins of
// kernels/cpu/attention_probs.h. One thread per key adds Σ_i p(i, j) over the query rows into col[j]; p comes from
// prob_from_score (kernels/common/softmax_math.h) with each row's final statistics, so the CPU and the device add
// the same terms (in another order). Rows whose sum is 0 (they attended nothing) add nothing.
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/kv_split_rows.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void merge_stats_kernel(int m, const float* a_max, const float* a_sum, const float* b_max,
                                   const float* b_sum, float* max, float* sum) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= m) return;
  float mx = a_max[i], sm = a_sum[i];
  ::bp::kern::merge_row_stats(mx, sm, b_max[i], b_sum[i]);  // the BP_HD rule, not the host wrapper below
  max[i] = mx;
  sum[i] = sm;
}

// Keys through split_rows_get, no mask.
__global__ void column_probs_split_kernel(const float* q, int64_t q_stride, const int32_t* rows, int m,
                                          const float* row_max, const float* row_sum, SplitRowsRef k, int64_t T,
                                          float* col) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= T) return;
  const int D = k.packed.layout.head_dim;
  float kj[256];
  for (int d = 0; d < D; ++d) kj[d] = split_rows_get(k, j, d);
  float acc = 0.0f;
  for (int i = 0; i < m; ++i) {
    const int r = rows[i];
    if (!(row_sum[r] > 0.0f)) continue;
    const float* qr = q + r * q_stride;
    float dot = 0.0f;
    for (int d = 0; d < D; ++d) dot += qr[d] * kj[d];
    acc += prob_from_score(dot, row_max[r], 1.0f / row_sum[r]);
  }
  col[j] += acc;
}

// F32 keys, causal: query row r sees key j iff j <= r + causal_offset.
__global__ void column_probs_f32_kernel(const float* q, int64_t q_stride, const int32_t* rows, int m,
                                        const float* row_max, const float* row_sum, const float* k,
                                        int64_t k_stride, int T, int D, int64_t causal_offset, float* col) {
  const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (j >= T) return;
  const float* kj = k + j * k_stride;
  float acc = 0.0f;
  for (int i = 0; i < m; ++i) {
    const int r = rows[i];
    if (j > r + causal_offset || !(row_sum[r] > 0.0f)) continue;
    const float* qr = q + r * q_stride;
    float dot = 0.0f;
    for (int d = 0; d < D; ++d) dot += qr[d] * kj[d];
    acc += prob_from_score(dot, row_max[r], 1.0f / row_sum[r]);
  }
  col[j] += acc;
}

}  // namespace

void merge_row_stats(int m, const float* a_max, const float* a_sum, const float* b_max, const float* b_sum,
                     float* max, float* sum) {
  if (m <= 0) return;
  merge_stats_kernel<<<(m + kThreads - 1) / kThreads, kThreads>>>(m, a_max, a_sum, b_max, b_sum, max, sum);
  BP_CUDA_CHECK_LAUNCH();
}

void column_probs_split(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                        const float* row_sum, const SplitRowsRef& k, float* col) {
  if (const char* e = kv_layout_error(k.packed.layout))
    throw std::invalid_argument(std::string("cuda::column_probs_split: ") + e);
  if (k.packed.layout.head_dim > 256) throw std::invalid_argument("cuda::column_probs_split: head_dim above 256");
  const int64_t T = k.tokens();
  if (m <= 0 || T <= 0) return;
  column_probs_split_kernel<<<(unsigned)((T + kThreads - 1) / kThreads), kThreads>>>(q, q_stride, rows, m, row_max,
                                                                                     row_sum, k, T, col);
  BP_CUDA_CHECK_LAUNCH();
}

void column_probs_f32(const float* q, int64_t q_stride, const int32_t* rows, int m, const float* row_max,
                      const float* row_sum, const float* k, int64_t k_stride, int T, int head_dim,
                      int64_t causal_offset, float* col) {
  if (m <= 0 || T <= 0) return;
  column_probs_f32_kernel<<<(unsigned)((T + kThreads - 1) / kThreads), kThreads>>>(
      q, q_stride, rows, m, row_max, row_sum, k, k_stride, T, head_dim, causal_offset, col);
  BP_CUDA_CHECK_LAUNCH();
}

}  // namespace bp::kern::cuda
