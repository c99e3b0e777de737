#include "kernels/cpu/attention_probs.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/softmax_math.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {

void attention_probs_f32_ref(const AttnProbArgs& a) {
  const int D = a.head_dim;
  for (int i = 0; i < a.m; ++i) {
    const float* q = a.q + i * a.q_stride;
    const int64_t last = std::min<int64_t>(a.T - 1, i + a.causal_offset);
    const float inv = 1.0f / a.row_sum[i];
    for (int64_t j = 0; j <= last; ++j) {
      const float* k = a.k + j * a.k_stride;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[d] * k[d];
      const float p = prob_from_score(dot, a.row_max[i], inv);
      if (a.col_sum) a.col_sum[j] += p;
      if (a.probs) a.probs[i * a.probs_stride + j] += p;
    }
  }
}

void add_probs_from_scores_ref(const float* s, int n, float max, float sum, float* out) {
  const float inv = 1.0f / sum;
  for (int j = 0; j < n; ++j) out[j] += prob_from_score(s[j], max, inv);
}

void attention_probs_f32(const AttnProbArgs& a) {
  if (a.head_dim % 16 == 0 && a.head_dim <= 256) {
    switch (active_isa()) {
      case Isa::Avx512: return avx512::attention_probs_f32(a);
      case Isa::Avx2: return avx2::attention_probs_f32(a);
      default: break;
    }
  }
  attention_probs_f32_ref(a);
}

void add_probs_from_scores(const float* s, int n, float max, float sum, float* out) {
  switch (active_isa()) {
    case Isa::Avx512: return avx512::add_probs_from_scores(s, n, max, sum, out);
    case Isa::Avx2: return avx2::add_probs_from_scores(s, n, max, sum, out);
    default: return add_probs_from_scores_ref(s, n, max, sum, out);
  }
}

}  // namespace bp::kern
