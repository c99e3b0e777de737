// AVX2+FMA instantiation of the GEMM panel kernel (gemm_simd.h): register tiles of 6 rows x 16 outputs.
#define BP_SIMD_NS avx2
#include "kernels/cpu/gemm_simd.h"

namespace bp::kern {

void gemm_panel_avx2(const float* x, int M, int K, const PackedWeights& w, int p, const float* bias, float* y,
                     int64_t ldy) {
  if (w.type() == PackedType::F16) avx2::gemm::panel_impl<true>(x, M, K, w, p, bias, y, ldy);
  else avx2::gemm::panel_impl<false>(x, M, K, w, p, bias, y, ldy);
}

}  // namespace bp::kern
