#include "kernels/cpu/activations.h"

#include <cmath>

#include "kernels/common/activation_math.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {

void rmsnorm_row_ref(const float* x, int d, const float* w, float eps, float* y) {
  float ss = 0.0f;
  for (int i = 0; i < d; ++i) ss += x[i] * x[i];
  const float inv = rms_inv(ss, d, eps);
  for (int i = 0; i < d; ++i) y[i] = x[i] * inv * w[i];
}

void swiglu_ref(const float* gate, const float* up, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = swiglu_one(gate[i], up[i]);
}

void rmsnorm_row(const float* x, int d, const float* w, float eps, float* y) {
  switch (active_isa()) {
    case Isa::Avx512: rmsnorm_row_avx512(x, d, w, eps, y); break;
    case Isa::Avx2: rmsnorm_row_avx2(x, d, w, eps, y); break;
    default: rmsnorm_row_ref(x, d, w, eps, y); break;
  }
}

void swiglu(const float* gate, const float* up, size_t n, float* out) {
  switch (active_isa()) {
    case Isa::Avx512: swiglu_avx512(gate, up, n, out); break;
    case Isa::Avx2: swiglu_avx2(gate, up, n, out); break;
    default: swiglu_ref(gate, up, n, out); break;
  }
}

}  // namespace bp::kern
