// F32 partial attention on the device, same contract as kernels/cpu/attention_f32.h (causal offset, online-softmax
// state). One block per query row; keys in chunks of kChunk: thread = key for the scores, a block reduction for the
// chunk's max and sum, thread = channel for the weighted values.
#include <cmath>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {

constexpr int kChunk = 256;  // keys per step = threads per block
constexpr int kMaxD = 256;

// Reduction over the block (kChunk threads): op = max or sum. All threads get the result.
template <bool Max>
__device__ float block_reduce(float x, float* red) {
  for (int o = 16; o > 0; o >>= 1) {
    const float y = __shfl_xor_sync(0xffffffffu, x, o);
    x = Max ? fmaxf(x, y) : x + y;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[warp] = x;
  __syncthreads();
  float r = Max ? -INFINITY : 0.0f;
  for (int w = 0; w < kChunk / 32; ++w) r = Max ? fmaxf(r, red[w]) : r + red[w];
  __syncthreads();  // red is reused by the next call
  return r;
}

__global__ void attention_rows(AttnF32Args a) {
  __shared__ float qs[kMaxD];
  __shared__ float p[kChunk];
  __shared__ float red[kChunk / 32];
  const int i = blockIdx.x, D = a.head_dim, tid = threadIdx.x;
  const float* q = a.q + (int64_t)i * a.q_stride;
  for (int d = tid; d < D; d += blockDim.x) qs[d] = q[d];
  __syncthreads();
  const int64_t last = (int64_t)i + a.causal_offset;  // inclusive
  const int64_t n = last + 1 < (int64_t)a.T ? last + 1 : (int64_t)a.T;
  float mx = -INFINITY, sum = 0.0f;
  float acc[kMaxD / kChunk > 0 ? kMaxD / kChunk : 1];  // this thread's channels: tid, tid + kChunk, ...
  for (int c = 0; c < kMaxD / kChunk; ++c) acc[c] = 0.0f;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t t = c0 + tid;
    float s = -INFINITY;
    if (t < n) {
      const float* k = a.k + t * a.kv_stride;
      s = 0.0f;
      for (int d = 0; d < D; ++d) s += qs[d] * k[d];
    }
    const float cmax = block_reduce<true>(s, red);
    const float m_new = fmaxf(mx, cmax);
    const float alpha = expf(mx - m_new);  // 0 on the first chunk (mx = -inf)
    const float e = t < n ? expf(s - m_new) : 0.0f;
    p[tid] = e;
    const float csum = block_reduce<false>(e, red);  // also orders the p[] writes before the reads below
    sum = sum * alpha + csum;
    mx = m_new;
    const int cn = (int)(n - c0 < kChunk ? n - c0 : kChunk);
    for (int c = 0; c * kChunk + tid < D; ++c) {
      const int d = c * kChunk + tid;
      float o = acc[c] * alpha;
      for (int j = 0; j < cn; ++j) o += p[j] * a.v[(c0 + j) * a.kv_stride + d];
      acc[c] = o;
    }
    __syncthreads();  // p[] is rewritten by the next chunk
  }
  for (int c = 0; c * kChunk + tid < D; ++c) a.out_acc[(int64_t)i * D + c * kChunk + tid] = n > 0 ? acc[c] : 0.0f;
  if (tid == 0) {
    a.out_max[i] = n > 0 ? mx : -INFINITY;
    a.out_sum[i] = n > 0 ? sum : 0.0f;
  }
}

}  // namespace

void attention_partial_f32(const AttnF32Args& a) {
  if (a.head_dim <= 0 || a.head_dim > kMaxD) throw std::invalid_argument("cuda::attention_partial_f32: head_dim 1..256");
  if (a.m <= 0) return;
  attention_rows<<<a.m, kChunk>>>(a);
  BP_CUDA_CHECK_LAUNCH();
}

}  // namespace bp::kern::cuda
