#pragma once
// Row-wise element kernels of the forward pass: RMSNorm and SwiGLU (silu(gate) * up), with a vectorized exp.
// Scalar references (_ref) define the results; SIMD versions agree to float rounding.
#include <cstddef>

namespace bp::kern {

// y = x / sqrt(mean(x^2) + eps) * w   (one row of d values; y may alias x)
void rmsnorm_row_ref(const float* x, int d, const float* w, float eps, float* y);
void rmsnorm_row(const float* x, int d, const float* w, float eps, float* y);

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]   (out may alias gate or up)
void swiglu_ref(const float* gate, const float* up, size_t n, float* out);
void swiglu(const float* gate, const float* up, size_t n, float* out);

// ISA versions (activations_avx2.cpp / activations_avx512.cpp).
void rmsnorm_row_avx2(const float* x, int d, const float* w, float eps, float* y);
void rmsnorm_row_avx512(const float* x, int d, const float* w, float eps, float* y);
void swiglu_avx2(const float* gate, const float* up, size_t n, float* out);
void swiglu_avx512(const float* gate, const float* up, size_t n, float* out);

}  // namespace bp::kern
