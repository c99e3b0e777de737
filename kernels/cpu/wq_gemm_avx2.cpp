// avx2 instantiation of the weight-only quantized product's inner loop (wq_gemm_simd.h).
#define BP_SIMD_NS avx2
#include "kernels/cpu/wq_gemm_simd.h"

namespace bp::kern {
float wq_dot_codes_avx2(const float* x, const uint8_t* q, int len) { return avx2::dot_codes_impl(x, q, len); }
float wq_dot_nibbles_avx2(const float* x, const uint8_t* packed, int len) {
  return avx2::dot_nibbles_impl(x, packed, len);
}
float wq_row_nibbles_avx2(const WqRowArgs& a) { return avx2::row_nibbles_impl(a); }
}  // namespace bp::kern
