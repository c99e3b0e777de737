// avx2 instantiation of the F32 flash attention kernel (attention_f32_simd.h).
#define BP_SIMD_NS avx2
#include "kernels/cpu/attention_f32_simd.h"
#include "kernels/cpu/packed_attention_isa.h"

namespace bp::kern::avx2 {

void attention_partial_f32(const AttnF32Args& a, float* scratch) { attention_f32_impl(a, scratch); }

}  // namespace bp::kern::avx2
