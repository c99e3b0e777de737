// AVX-512 panel kernel for gemm_packed: microtiles of 8 rows x 32 outputs (16 zmm accumulators), one panel at a time.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/gemm.h"

namespace bp::kern {

namespace {

template <int MR, bool F16>
inline void micro(const float* x, int K, const void* panel, const float* bias, float* y, int64_t ldy, int nr) {
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  const float* pf = static_cast<const float*>(panel);
  const uint16_t* ph = static_cast<const uint16_t*>(panel);
  for (int k = 0; k < K; ++k) {
    __m512 b0, b1;
    if constexpr (F16) {
      b0 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(ph + (size_t)k * kPanel)));
      b1 = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(ph + (size_t)k * kPanel + 16)));
    } else {
      b0 = _mm512_load_ps(pf + (size_t)k * kPanel);
      b1 = _mm512_load_ps(pf + (size_t)k * kPanel + 16);
    }
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(x[(size_t)i * K + k]);
      c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
    }
  }
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : (nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1));
  __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
  if (bias) {
    bb0 = _mm512_maskz_loadu_ps(m0, bias);
    bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(y + (size_t)i * ldy, m0, _mm512_add_ps(c0[i], bb0));
    _mm512_mask_storeu_ps(y + (size_t)i * ldy + 16, m1, _mm512_add_ps(c1[i], bb1));
  }
}

template <bool F16>
void panel_impl(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                int64_t ldy) {
  const int n0 = p * kPanel;
  const int nr = std::min(kPanel, w.N() - n0);
  const void* panel = w.panel(p);
  const float* b = bias ? bias + n0 : nullptr;
  int m = 0;
  for (; m + 8 <= M; m += 8) micro<8, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr);
  switch (M - m) {
    case 7: micro<7, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 6: micro<6, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 5: micro<5, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 4: micro<4, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 3: micro<3, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 2: micro<2, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    case 1: micro<1, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr); break;
    default: break;
  }
}

}  // namespace

void gemm_panel_avx512(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                       int64_t ldy) {
  if (w.type() == PackedType::F16) panel_impl<true>(x, M, K, w, p, bias, y, ldy);
  else panel_impl<false>(x, M, K, w, p, bias, y, ldy);
}

}  // namespace bp::kern
