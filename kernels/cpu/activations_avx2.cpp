// avx2 versions of RMSNorm and SwiGLU (see activations.h).
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/vec_exp.h"

namespace bp::kern {

void rmsnorm_row_avx2(const float* x, int d, const float* w, float eps, float* y) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= d; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  alignas(64) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float ss = 0.0f;
  for (int j = 0; j < 8; ++j) ss += lanes[j];
  for (; i < d; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / (float)d + eps);
  const __m256 vi = _mm256_set1_ps(inv);
  i = 0;
  for (; i + 8 <= d; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi), _mm256_loadu_ps(w + i)));
  for (; i < d; ++i) y[i] = x[i] * inv * w[i];
}

void swiglu_avx2(const float* gate, const float* up, size_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = simd::exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace bp::kern
