// AVX-512 instantiation of the GEMM panel kernel (gemm_simd.h): register tiles of 8 rows x 32 outputs.
#define BP_SIMD_NS avx512
#include "kernels/cpu/gemm_simd.h"

namespace bp::kern {

void gemm_panel_avx512(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                       int64_t ldy) {
  if (w.type() == PackedType::F16) avx512::gemm::panel_impl<true>(x, M, K, w, p, bias, y, ldy);
  else avx512::gemm::panel_impl<false>(x, M, K, w, p, bias, y, ldy);
}

}  // namespace bp::kern
