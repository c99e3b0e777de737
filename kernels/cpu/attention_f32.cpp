#include "kernels/cpu/attention_f32.h"

#include <cmath>
#include <vector>

namespace bp::kern {

void attention_partial_f32_ref(const AttnF32Args& a) {
  const int D = a.head_dim;
  std::vector<float> s(a.T > 0 ? a.T : 1);
  for (int i = 0; i < a.m; ++i) {
    const float* q = a.q + i * a.q_stride;
    float* acc = a.out_acc + (int64_t)i * D;
    for (int d = 0; d < D; ++d) acc[d] = 0.0f;
    int64_t last = (int64_t)i + a.causal_offset;  // inclusive
    int n = (int)std::min<int64_t>(a.T, last + 1);
    if (n <= 0) {
      a.out_max[i] = -INFINITY;
      a.out_sum[i] = 0.0f;
      continue;
    }
    float mx = -INFINITY;
    for (int j = 0; j < n; ++j) {
      const float* k = a.k + j * a.kv_stride;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[d] * k[d];
      s[j] = dot;
      mx = std::max(mx, dot);
    }
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) {
      const float p = std::exp(s[j] - mx);
      sum += p;
      const float* v = a.v + j * a.kv_stride;
      for (int d = 0; d < D; ++d) acc[d] += p * v[d];
    }
    a.out_max[i] = mx;
    a.out_sum[i] = sum;
  }
}

// Until the SIMD versions land, the reference is the implementation.
void attention_partial_f32(const AttnF32Args& a) { attention_partial_f32_ref(a); }

}  // namespace bp::kern
