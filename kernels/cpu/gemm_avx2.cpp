// AVX2+FMA panel kernel for gemm_packed: microtiles of 3 rows x 32 outputs (12 ymm accumulators).
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/gemm.h"

namespace bp::kern {

namespace {

template <int MR, bool F16>
inline void micro(const float* x, int K, const void* panel, const float* bias, float* y, int64_t ldy, int nr) {
  __m256 c[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < 4; ++j) c[i][j] = _mm256_setzero_ps();
  const float* pf = static_cast<const float*>(panel);
  const uint16_t* ph = static_cast<const uint16_t*>(panel);
  for (int k = 0; k < K; ++k) {
    __m256 b[4];
    for (int j = 0; j < 4; ++j) {
      if constexpr (F16)
        b[j] = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(ph + (size_t)k * kPanel + 8 * j)));
      else
        b[j] = _mm256_load_ps(pf + (size_t)k * kPanel + 8 * j);
    }
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + (size_t)i * K + k);
      for (int j = 0; j < 4; ++j) c[i][j] = _mm256_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  alignas(32) float tmp[kPanel];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < 4; ++j) _mm256_store_ps(tmp + 8 * j, c[i][j]);
    float* yr = y + (size_t)i * ldy;
    for (int r = 0; r < nr; ++r) yr[r] = tmp[r] + (bias ? bias[r] : 0.0f);
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
  for (; m + 3 <= M; m += 3) micro<3, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr);
  if (M - m == 2) micro<2, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr);
  else if (M - m == 1) micro<1, F16>(x + (size_t)m * K, K, panel, b, y + (size_t)m * ldy + n0, ldy, nr);
}

}  // namespace

void gemm_panel_avx2(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                     int64_t ldy) {
  if (w.type() == PackedType::F16) panel_impl<true>(x, M, K, w, p, bias, y, ldy);
  else panel_impl<false>(x, M, K, w, p, bias, y, ldy);
}

}  // namespace bp::kern
