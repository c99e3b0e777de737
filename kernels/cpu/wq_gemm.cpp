#include "kernels/cpu/wq_gemm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/fp16.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/thread_pool.h"

namespace bp::kern {

const char* wq_format_error(const WqFormat& f, int K) {
  if (f.bits != 2 && f.bits != 3 && f.bits != 4 && f.bits != 8) return "bits must be 2, 3, 4 or 8";
  if (f.group < 0) return "group must be >= 0 (0: one group per output channel)";
  if (f.group != 0 && f.group % 8 != 0) return "group must be a multiple of 8 (whole bytes of codes per group)";
  if (K <= 0) return "the matrix has no inputs";
  return "";
}

void wq_unpack_codes(const uint8_t* src, int bits, int len, uint8_t* q) {
  if (bits == 8) {
    std::copy(src, src + len, q);
    return;
  }
  if (bits == 4) {
    for (int k = 0; k + 1 < len; k += 2) {
      q[k] = src[k / 2] & 0xF;
      q[k + 1] = src[k / 2] >> 4;
    }
    if (len & 1) q[len - 1] = src[len / 2] & 0xF;
    return;
  }
  const uint32_t mask = (1u << bits) - 1;
  for (int k = 0; k < len; ++k) {
    const size_t bit = (size_t)k * bits;
    uint32_t v = src[bit / 8] | (bit / 8 + 1 < ((size_t)len * bits + 7) / 8 ? (uint32_t)src[bit / 8 + 1] << 8 : 0u);
    q[k] = (uint8_t)((v >> (bit % 8)) & mask);
  }
}

namespace {

void pack_codes(const uint8_t* q, int bits, int len, uint8_t* dst) {
  const size_t nbytes = ((size_t)len * bits + 7) / 8;
  std::fill(dst, dst + nbytes, 0);
  for (int k = 0; k < len; ++k) {
    const size_t bit = (size_t)k * bits;
    const uint32_t v = (uint32_t)q[k] << (bit % 8);
    dst[bit / 8] |= (uint8_t)(v & 0xFF);
    if ((v >> 8) && bit / 8 + 1 < nbytes) dst[bit / 8 + 1] |= (uint8_t)(v >> 8);
  }
}

}  // namespace

WqGrid WqGrid::fit(const float* v, int len, const WqFormat& f) {
  float lo = v[0], hi = v[0], amax = 0.0f;
  for (int k = 0; k < len; ++k) {
    lo = std::min(lo, v[k]);
    hi = std::max(hi, v[k]);
    amax = std::max(amax, std::fabs(v[k]));
  }
  WqGrid g;
  const int levels = (1 << f.bits) - 1;  // asymmetric: q in [0, levels]
  const int half = 1 << (f.bits - 1);    // symmetric: q - half in [-(half-1), half-1]
  if (f.symmetric) {
    g.scale_bits = f32_to_f16(half > 1 ? amax / (float)(half - 1) : amax);
    g.scale = f16_to_f32(g.scale_bits);
    g.offset = -g.scale * (float)half;
  } else {
    g.min_bits = f32_to_f16(lo);
    g.offset = f16_to_f32(g.min_bits);
    g.scale_bits = f32_to_f16((hi - g.offset) / (float)levels);
    g.scale = f16_to_f32(g.scale_bits);
  }
  return g;
}

int WqGrid::code(float v, const WqFormat& f) const {
  if (f.symmetric) {
    const int half = 1 << (f.bits - 1);
    const float r = scale > 0.0f ? std::nearbyint(v / scale) : 0.0f;
    return (int)(std::clamp(r, (float)-(half - 1), (float)(half - 1)) + (float)half);
  }
  const float r = scale > 0.0f ? std::nearbyint((v - offset) / scale) : 0.0f;
  return (int)std::clamp(r, 0.0f, (float)((1 << f.bits) - 1));
}

namespace {

// The layout shared by both constructors: group sizes, offsets of each group's codes in a row, storage.
void layout(int N, int K, const WqFormat& f, int& G, int& groups, size_t& row_bytes, std::vector<size_t>& offsets) {
  if (const char* e = wq_format_error(f, K); *e) throw std::invalid_argument(std::string("WqMatrix: ") + e);
  if (N <= 0) throw std::invalid_argument("WqMatrix: the matrix has no outputs");
  G = f.group == 0 ? K : std::min(f.group, K);
  groups = (K + G - 1) / G;
  offsets.resize(groups);
  row_bytes = 0;
  for (int g = 0; g < groups; ++g) {
    offsets[g] = row_bytes;
    const int len = g + 1 < groups ? G : K - G * (groups - 1);
    row_bytes += ((size_t)len * f.bits + 7) / 8;
  }
}

}  // namespace

WqMatrix::WqMatrix(const float* w, int N, int K, WqFormat f) : N_(N), K_(K), f_(f) {
  layout(N, K, f, G_, groups_, row_bytes_, group_offset_);
  codes_.assign((size_t)N * row_bytes_, 0);
  scales_.assign((size_t)N * groups_, 0);
  if (!f.symmetric) mins_.assign((size_t)N * groups_, 0);
  std::vector<uint8_t> q(G_);
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < groups_; ++g) {
      const float* src = w + (size_t)n * K + (size_t)g * G_;
      const int len = group_len(g);
      const WqGrid grid = WqGrid::fit(src, len, f);
      const size_t gi = (size_t)n * groups_ + g;
      scales_[gi] = grid.scale_bits;
      if (!f.symmetric) mins_[gi] = grid.min_bits;
      for (int k = 0; k < len; ++k) q[k] = (uint8_t)grid.code(src[k], f);
      pack_codes(q.data(), f.bits, len, codes_.data() + (size_t)n * row_bytes_ + group_offset_[g]);
    }
  }
}

WqMatrix::WqMatrix(int N, int K, WqFormat f, const std::vector<uint8_t>& codes, const std::vector<WqGrid>& grids)
    : N_(N), K_(K), f_(f) {
  layout(N, K, f, G_, groups_, row_bytes_, group_offset_);
  if (codes.size() != (size_t)N * K || grids.size() != (size_t)N * groups_)
    throw std::invalid_argument("WqMatrix: expected N·K codes and N·groups grids");
  codes_.assign((size_t)N * row_bytes_, 0);
  scales_.assign((size_t)N * groups_, 0);
  if (!f.symmetric) mins_.assign((size_t)N * groups_, 0);
  const int max_code = (1 << f.bits) - 1;
  for (int n = 0; n < N; ++n)
    for (int g = 0; g < groups_; ++g) {
      const size_t gi = (size_t)n * groups_ + g;
      scales_[gi] = grids[gi].scale_bits;
      if (!f.symmetric) mins_[gi] = grids[gi].min_bits;
      const uint8_t* q = codes.data() + (size_t)n * K + (size_t)g * G_;
      for (int k = 0; k < group_len(g); ++k)
        if (q[k] > max_code) throw std::invalid_argument("WqMatrix: a code exceeds the format's levels");
      pack_codes(q, f.bits, group_len(g), codes_.data() + (size_t)n * row_bytes_ + group_offset_[g]);
    }
}

float WqMatrix::scale(int n, int g) const { return f16_to_f32(scale_bits(n, g)); }

float WqMatrix::offset(int n, int g) const {
  return f_.symmetric ? -scale(n, g) * (float)(1 << (f_.bits - 1)) : f16_to_f32(min_bits(n, g));
}

size_t WqMatrix::bytes() const {
  return codes_.size() + scales_.size() * sizeof(uint16_t) + mins_.size() * sizeof(uint16_t);
}

int WqMatrix::code(int n, int k) const {
  const int g = k / G_;
  std::vector<uint8_t> q(group_len(g));
  wq_unpack_codes(codes(n, g), f_.bits, group_len(g), q.data());
  return q[k - g * G_];
}

void WqMatrix::dequantize_row(int n, float* row) const {
  std::vector<uint8_t> q(G_);
  for (int g = 0; g < groups_; ++g) {
    const int len = group_len(g);
    wq_unpack_codes(codes(n, g), f_.bits, len, q.data());
    const float s = scale(n, g), o = offset(n, g);
    for (int k = 0; k < len; ++k) row[(size_t)g * G_ + k] = s * (float)q[k] + o;
  }
}

void wq_gemm_ref(const float* x, int M, const WqMatrix& w, const float* bias, float* y) {
  const int N = w.N(), K = w.K();
  std::vector<float> row(K);
  for (int n = 0; n < N; ++n) {
    w.dequantize_row(n, row.data());
    for (int m = 0; m < M; ++m) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += x[(size_t)m * K + k] * row[k];
      y[(size_t)m * N + n] = acc + (bias ? bias[n] : 0.0f);
    }
  }
}

float wq_dot_codes_scalar(const float* x, const uint8_t* q, int len) {
  float acc = 0.0f;
  for (int k = 0; k < len; ++k) acc += x[k] * (float)q[k];
  return acc;
}

float wq_dot_nibbles_scalar(const float* x, const uint8_t* packed, int len) {
  float acc = 0.0f;
  for (int k = 0; k < len; ++k) acc += x[k] * (float)((packed[k / 2] >> (4 * (k & 1))) & 0xF);
  return acc;
}

float wq_row_nibbles_scalar(const WqRowArgs& a) {
  float acc = 0.0f;
  for (int g = 0; g < a.groups; ++g) {
    const int len = g + 1 < a.groups ? a.group : a.K - a.group * (a.groups - 1);
    const float s = f16_to_f32(a.scales[g]);
    const float o = a.mins ? f16_to_f32(a.mins[g]) : -s * 8.0f;
    acc += s * wq_dot_nibbles_scalar(a.x + (size_t)g * a.group, a.codes + (size_t)g * (a.group / 2), len) +
           o * a.sum_x[g];
  }
  return acc;
}

namespace {

using DotFn = float (*)(const float*, const uint8_t*, int);
using RowFn = float (*)(const WqRowArgs&);
using PanelFn = void (*)(const float*, int, int, const PackedWeights&, int, const float*, float*, int64_t);

// Few input rows (decode): 4-bit rows go to `row4`, which reads the codes straight from their packed bytes; other
// widths are unpacked once per group into bytes and dotted with each input row by `dot`. Each group's scale and
// offset are applied to the dot and to the row's Σx (precomputed per group).
void gemm_fused(const float* x, int M, const WqMatrix& w, const float* bias, float* y, int threads, DotFn dot,
                RowFn row4) {
  const int N = w.N(), K = w.K(), G = w.group_size(), ng = w.groups();
  std::vector<float> sum_x((size_t)M * ng, 0.0f);
  for (int m = 0; m < M; ++m)
    for (int g = 0; g < ng; ++g) {
      float s = 0.0f;
      for (int k = 0; k < w.group_len(g); ++k) s += x[(size_t)m * K + (size_t)g * G + k];
      sum_x[(size_t)m * ng + g] = s;
    }
  parallel_chunks(threads, N, [&](int64_t n0, int64_t n1) {
    std::vector<uint8_t> q(G);
    std::vector<float> acc(M);
    for (int64_t n = n0; n < n1; ++n) {
      if (w.format().bits == 4) {  // one row-kernel call per (output row, input row)
        for (int m = 0; m < M; ++m) {
          WqRowArgs a;
          a.x = x + (size_t)m * K;
          a.codes = w.codes((int)n, 0);
          a.scales = w.scales_row((int)n);
          a.mins = w.mins_row((int)n);
          a.sum_x = sum_x.data() + (size_t)m * ng;
          a.K = K;
          a.group = G;
          a.groups = ng;
          y[(size_t)m * N + n] = row4(a) + (bias ? bias[n] : 0.0f);
        }
        continue;
      }
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int g = 0; g < ng; ++g) {
        const int len = w.group_len(g);
        wq_unpack_codes(w.codes((int)n, g), w.format().bits, len, q.data());
        const float s = w.scale((int)n, g), o = w.offset((int)n, g);
        for (int m = 0; m < M; ++m)
          acc[m] += s * dot(x + (size_t)m * K + (size_t)g * G, q.data(), len) + o * sum_x[(size_t)m * ng + g];
      }
      for (int m = 0; m < M; ++m) y[(size_t)m * N + n] = acc[m] + (bias ? bias[n] : 0.0f);
    }
  });
}

// Many input rows (prefill): each panel of kPanel output rows is dequantized once into a packed F32 panel and run
// through the dense GEMM's microkernel, so the arithmetic runs at the dense kernel's speed; the panel is transient
// (kPanel · K floats per thread), never the whole matrix.
void gemm_panels(const float* x, int M, const WqMatrix& w, const float* bias, float* y, int threads, PanelFn panel) {
  const int N = w.N(), K = w.K();
  const int P = (N + kPanel - 1) / kPanel;
  parallel_chunks(threads, P, [&](int64_t p0, int64_t p1) {
    std::vector<float> rows((size_t)kPanel * K);
    for (int64_t p = p0; p < p1; ++p) {
      const int n0 = (int)p * kPanel, nr = std::min(kPanel, N - n0);
      for (int r = 0; r < nr; ++r) w.dequantize_row(n0 + r, rows.data() + (size_t)r * K);
      PackedWeights tile(rows.data(), nr, K, PackedType::F32);
      panel(x, M, K, tile, 0, bias ? bias + n0 : nullptr, y + n0, N);
    }
  });
}

// Below this many input rows the fused path wins: the panel path's dequantization costs K · kPanel per panel
// whatever M is.
constexpr int kFusedMaxRows = 8;

}  // namespace

void wq_gemm(const float* x, int M, const WqMatrix& w, const float* bias, float* y, int threads) {
  if (M <= 0) return;
  const Isa isa = active_isa();
  if (M <= kFusedMaxRows) {
    DotFn dot = isa == Isa::Avx512 ? wq_dot_codes_avx512 : isa == Isa::Avx2 ? wq_dot_codes_avx2 : wq_dot_codes_scalar;
    RowFn row4 = isa == Isa::Avx512 ? wq_row_nibbles_avx512 : isa == Isa::Avx2 ? wq_row_nibbles_avx2 : wq_row_nibbles_scalar;
    gemm_fused(x, M, w, bias, y, threads, dot, row4);
    return;
  }
  PanelFn panel = isa == Isa::Avx512 ? gemm_panel_avx512 : isa == Isa::Avx2 ? gemm_panel_avx2 : gemm_panel_scalar;
  gemm_panels(x, M, w, bias, y, threads, panel);
}

}  // namespace bp::kern
