#include "kernels/cpu/attention_f32.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/packed_attention_isa.h"

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

// Vector flash kernels (attention_f32_simd.h) for head_dim % 64 == 0 on AVX2/AVX-512; the reference otherwise.
void attention_partial_f32(const AttnF32Args& a) {
  const Isa isa = active_isa();
  if (isa != Isa::Scalar && a.head_dim % 64 == 0 && a.m > 0 && a.T > 0) {
    static thread_local std::vector<float> scratch;  // transposed keys, reused across calls of this thread
    const size_t need = (size_t)attention_f32_scratch_floats(a);
    if (scratch.size() < need) scratch.resize(need);
    if (isa == Isa::Avx512) return avx512::attention_partial_f32(a, scratch.data());
    return avx2::attention_partial_f32(a, scratch.data());
  }
  attention_partial_f32_ref(a);
}

}  // namespace bp::kern
