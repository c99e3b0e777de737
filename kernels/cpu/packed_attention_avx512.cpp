// avx512 instantiation of the packed / FP16-cache attention kernels (packed_attention_simd.h).
#define BP_SIMD_NS avx512
#include "kernels/cpu/packed_attention_simd.h"
#include "kernels/cpu/packed_attention_isa.h"

namespace bp::kern::avx512 {

void packed_attention(const PackedAttnArgs& a) { packed_attention_impl(a); }

void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride) {
  packed_scores_impl(q, q_stride, m, k, t0, t1, scores, score_stride);
}

void attention_partial_f16(const AttnF16Args& a) {
  const rows::Args ra{a.q, a.q_stride, a.m, a.kv_stride, a.T, a.head_dim, a.T, a.out_max, a.out_sum, a.out_acc};
  attention_rows<uint16_t>(ra, a.k, a.v);
}

}  // namespace bp::kern::avx512
