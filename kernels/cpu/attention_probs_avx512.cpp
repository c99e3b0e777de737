// avx512 instantiation of the attention-probability kernels (attention_probs_simd.h).
#define BP_SIMD_NS avx512
#include "kernels/cpu/attention_probs_simd.h"
