// avx512 versions of RMSNorm and SwiGLU (see activations.h).
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/vec_exp.h"

namespace bp::kern {

void rmsnorm_row_avx512(const float* x, int d, const float* w, float eps, float* y) {
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    acc = _mm512_fmadd_ps(v, v, acc);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc);
  float ss = 0.0f;
  for (int j = 0; j < 16; ++j) ss += lanes[j];
  for (; i < d; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / (float)d + eps);
  const __m512 vi = _mm512_set1_ps(inv);
  i = 0;
  for (; i + 16 <= d; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vi), _mm512_loadu_ps(w + i)));
  for (; i < d; ++i) y[i] = x[i] * inv * w[i];
}

void swiglu_avx512(const float* gate, const float* up, size_t n, float* out) {
  const __m512 one = _mm512_set1_ps(1.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = simd::exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace bp::kern
