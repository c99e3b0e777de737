// KV quantization on the device, bit-identical to kernels/cpu/kv_quant.cpp (same BP_HD math: qparams_*,
// quantize_code, code positions). Two passes: statistics (one thread per token-group or channel-group), then codes
// (one thread per output byte, so bytes shared by several codes are written whole, without atomics; bits of tokens
// outside the range are kept).
#include <string>

#include "kernels/common/kv_layout.h"
#include "kernels/common/quant_math.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return (unsigned)((n + kThreads - 1) / kThreads); }

struct Src {
  const float* x;
  int64_t stride;
  const int32_t* row_index;  // may be null
  int64_t t_begin;
  int n;
  __device__ const float* row(int64_t i) const { return x + (row_index ? (int64_t)row_index[i] : i) * stride; }
};

// The quantizer's view of element (range token i, channel d): x, or x · (1 / c_d) for channel-normalized values.
__device__ float elem(const PackedKvMut& out, const Src& src, int64_t i, int d) {
  const float v = src.row(i)[d];
  if (out.layout.role == KvRole::Values && out.layout.channel_norm) return v * inv_scale(f16_to_f32(out.norms[d]));
  return v;
}

__device__ void write_params(const PackedKvMut& out, int64_t si, float lo, float hi) {
  if (out.layout.symmetric) {
    qparams_sym(fmaxf(-lo, hi), out.layout.bits, &out.scales[si]);
  } else {
    qparams_asym(lo, hi, out.layout.bits, &out.scales[si], &out.mins[si]);
  }
}

// One thread per (range token, channel group).
__global__ void stats_per_token(PackedKvMut out, Src src) {
  const int G = kv_group(out.layout), groups = out.layout.head_dim / G;
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= (int64_t)src.n * groups) return;
  const int64_t i = id / groups;
  const int g0 = (int)(id % groups) * G;
  float lo = elem(out, src, i, g0), hi = lo;
  for (int d = g0 + 1; d < g0 + G; ++d) {
    const float v = elem(out, src, i, d);
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  write_params(out, kv_stat_index(out.layout, src.t_begin + i, g0), lo, hi);
}

// One thread per (token group inside the range, channel).
__global__ void stats_per_channel(PackedKvMut out, Src src) {
  const int D = out.layout.head_dim, G = kv_group(out.layout);
  const int64_t span = G == 0 ? src.n : G;
  const int64_t spans = (src.n + span - 1) / span;
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= spans * D) return;
  const int64_t a = (id / D) * span;
  const int d = (int)(id % D);
  const int64_t b = a + span < src.n ? a + span : src.n;
  float lo = elem(out, src, a, d), hi = lo;
  for (int64_t i = a + 1; i < b; ++i) {
    const float v = elem(out, src, i, d);
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  write_params(out, kv_stat_index(out.layout, src.t_begin + a, d), lo, hi);
}

__device__ int code_for(const PackedKvMut& out, const Src& src, int64_t i, int d) {
  const KvLayout& L = out.layout;
  const int64_t si = kv_stat_index(L, src.t_begin + i, d);
  const float scale = f16_to_f32(out.scales[si]);
  const float mn = L.symmetric ? sym_min(scale, L.bits) : f16_to_f32(out.mins[si]);
  return quantize_code(elem(out, src, i, d), mn, inv_scale(scale), L.bits);
}

// One thread per byte of the value rows of the range.
__global__ void encode_values(PackedKvMut out, Src src) {
  const KvLayout& L = out.layout;
  const int64_t rb = value_row_bytes(L);
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= (int64_t)src.n * rb) return;
  const int64_t i = id / rb, jb = id % rb;
  int byte = 0;
  for (int s = 0; s < codes_per_byte(L.bits); ++s) {
    const int d = (int)code_index(jb, s, L.head_dim, L.bits);
    byte |= code_for(out, src, i, d) << (s * L.bits);
  }
  out.codes[(src.t_begin + i) * rb + jb] = (uint8_t)byte;
}

// One thread per byte of the key tiles overlapping the range.
__global__ void encode_keys(PackedKvMut out, Src src, int64_t first_tile, int64_t n_bytes) {
  const KvLayout& L = out.layout;
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= n_bytes) return;
  const int64_t tb = key_tile_bytes(L), rb = key_run_bytes(L);
  const int64_t tile = first_tile + id / tb, in_tile = id % tb;
  const int d = (int)(in_tile / rb);
  const int64_t jb = in_tile % rb;
  uint8_t* p = out.codes + tile * tb + in_tile;
  int byte = *p;
  for (int s = 0; s < codes_per_byte(L.bits); ++s) {
    const int64_t t = tile * kKeyTile + code_index(jb, s, kKeyTile, L.bits);
    if (t < src.t_begin || t >= src.t_begin + src.n) continue;  // another token's code: keep it
    const int mask = code_max(L.bits) << (s * L.bits);
    byte = (byte & ~mask) | (code_for(out, src, t - src.t_begin, d) << (s * L.bits));
  }
  *p = (uint8_t)byte;
}

// One thread per element.
__global__ void dequantize_kernel(PackedKv in, int64_t t_begin, int n, float* x, int64_t stride) {
  const int D = in.layout.head_dim;
  const int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (id >= (int64_t)n * D) return;
  const int64_t i = id / D;
  const int d = (int)(id % D);
  x[i * stride + d] = kv_dequant(in, t_begin + i, d);
}

__global__ void channel_norms_kernel(const float* x, int64_t stride, int n, int D, uint16_t* norms) {
  const int d = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= D) return;
  float mx = 0.0f;
  for (int i = 0; i < n; ++i) mx = fmaxf(mx, fabsf(x[i * stride + d]));
  norms[d] = f16_stat(sqrtf(mx));
}

void require(const char* err, const char* what) {
  if (err) throw std::invalid_argument(std::string(what) + ": " + err);
}

}  // namespace

void kv_quantize(const PackedKvMut& out, const float* x, int64_t x_stride, int64_t t_begin, int n,
                 const int32_t* row_index) {
  const KvLayout& L = out.layout;
  require(kv_layout_error(L), "cuda::kv_quantize");
  require(kv_range_error(L, out.tokens, t_begin, n), "cuda::kv_quantize");
  if (L.role == KvRole::Values && L.channel_norm && !out.norms)
    throw std::invalid_argument("cuda::kv_quantize: channel_norm layout without norms");
  if (n == 0) return;
  const Src src{x, x_stride, row_index, t_begin, n};
  if (L.axis == KvAxis::PerToken) {
    const int64_t jobs = (int64_t)n * (L.head_dim / kv_group(L));
    stats_per_token<<<blocks_for(jobs), kThreads>>>(out, src);
  } else {
    const int G = kv_group(L);
    const int64_t span = G == 0 ? n : G;
    const int64_t jobs = (n + span - 1) / span * L.head_dim;
    stats_per_channel<<<blocks_for(jobs), kThreads>>>(out, src);
  }
  BP_CUDA_CHECK_LAUNCH();
  if (L.role == KvRole::Values) {
    encode_values<<<blocks_for((int64_t)n * value_row_bytes(L)), kThreads>>>(out, src);
  } else {
    const int64_t first = t_begin / kKeyTile, last = (t_begin + n - 1) / kKeyTile;
    const int64_t bytes = (last - first + 1) * key_tile_bytes(L);
    encode_keys<<<blocks_for(bytes), kThreads>>>(out, src, first, bytes);
  }
  BP_CUDA_CHECK_LAUNCH();
}

void kv_dequantize(const PackedKv& in, int64_t t_begin, int n, float* x, int64_t x_stride) {
  require(kv_layout_error(in.layout), "cuda::kv_dequantize");
  if (t_begin < 0 || n < 0 || t_begin + n > in.tokens)
    throw std::invalid_argument("cuda::kv_dequantize: token range outside the store");
  if (n == 0) return;
  dequantize_kernel<<<blocks_for((int64_t)n * in.layout.head_dim), kThreads>>>(in, t_begin, n, x, x_stride);
  BP_CUDA_CHECK_LAUNCH();
}

void kv_channel_norms(const float* x, int64_t x_stride, int n, int head_dim, uint16_t* norms) {
  if (head_dim <= 0) return;
  channel_norms_kernel<<<blocks_for(head_dim), kThreads>>>(x, x_stride, n, head_dim, norms);
  BP_CUDA_CHECK_LAUNCH();
}

}  // namespace bp::kern::cuda
