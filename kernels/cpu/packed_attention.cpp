#include "kernels/cpu/packed_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/common/softmax_math.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/packed_attention_isa.h"

namespace bp::kern {

namespace {

int64_t range_end(const PackedAttnArgs& a) { return a.t1 < 0 ? a.k.tokens : a.t1; }

void check_args(const PackedAttnArgs& a) {
  if (a.k.layout.role != KvRole::Keys || a.v.layout.role != KvRole::Values)
    throw std::invalid_argument("packed_attention: k must be a key store and v a value store");
  if (a.k.layout.head_dim != a.v.layout.head_dim)
    throw std::invalid_argument("packed_attention: keys and values differ in head_dim");
  if (const char* e = kv_layout_error(a.k.layout)) throw std::invalid_argument(e);
  if (const char* e = kv_layout_error(a.v.layout)) throw std::invalid_argument(e);
  const int64_t t1 = range_end(a);
  if (a.t0 < 0 || t1 > a.k.tokens || t1 > a.v.tokens)
    throw std::invalid_argument("packed_attention: token range outside the stores");
}

void empty_state(int m, int D, float* mx, float* sum, float* acc) {
  for (int i = 0; i < m; ++i) {
    mx[i] = -INFINITY;
    sum[i] = 0.0f;
    std::fill(acc + (int64_t)i * D, acc + (int64_t)(i + 1) * D, 0.0f);
  }
}

}  // namespace

// ---- references ---------------------------------------------------------------------------------------------

void packed_scores_ref(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1,
                       float* scores, int64_t score_stride) {
  const int D = k.layout.head_dim;
  for (int i = 0; i < m; ++i)
    for (int64_t t = t0; t < t1; ++t) {
      float s = 0.0f;
      for (int d = 0; d < D; ++d) s += q[i * q_stride + d] * kv_dequant(k, t, d);
      scores[i * score_stride + (t - t0)] = s;
    }
}

void packed_attention_ref(const PackedAttnArgs& a) {
  check_args(a);
  const int D = a.k.layout.head_dim;
  const int64_t t0 = a.t0, t1 = range_end(a);
  empty_state(a.m, D, a.out_max, a.out_sum, a.out_acc);
  if (t1 <= t0) return;
  std::vector<float> s(t1 - t0);
  for (int i = 0; i < a.m; ++i) {
    packed_scores_ref(a.q + i * a.q_stride, 0, 1, a.k, t0, t1, s.data(), 0);
    const float mx = *std::max_element(s.begin(), s.end());
    float sum = 0.0f;
    float* acc = a.out_acc + (int64_t)i * D;
    for (int64_t t = t0; t < t1; ++t) {
      const float p = std::exp(s[t - t0] - mx);
      sum += p;
      for (int d = 0; d < D; ++d) acc[d] += p * kv_dequant(a.v, t, d);
    }
    a.out_max[i] = mx;
    a.out_sum[i] = sum;
  }
}

void attention_partial_f16_ref(const AttnF16Args& a) {
  const int D = a.head_dim;
  empty_state(a.m, D, a.out_max, a.out_sum, a.out_acc);
  if (a.T <= 0) return;
  std::vector<float> s(a.T);
  for (int i = 0; i < a.m; ++i) {
    const float* q = a.q + i * a.q_stride;
    float mx = -INFINITY;
    for (int t = 0; t < a.T; ++t) {
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot += q[d] * f16_to_f32(a.k[t * a.kv_stride + d]);
      s[t] = dot;
      mx = std::max(mx, dot);
    }
    float sum = 0.0f;
    float* acc = a.out_acc + (int64_t)i * D;
    for (int t = 0; t < a.T; ++t) {
      const float p = std::exp(s[t] - mx);
      sum += p;
      for (int d = 0; d < D; ++d) acc[d] += p * f16_to_f32(a.v[t * a.kv_stride + d]);
    }
    a.out_max[i] = mx;
    a.out_sum[i] = sum;
  }
}

// ---- dispatch -------------------------------------------------------------------------------------------------

void packed_attention(const PackedAttnArgs& a) {
  check_args(a);
  const Isa isa = active_isa();
  if (isa != Isa::Scalar && simd_supports_store(a.k) && simd_supports_store(a.v)) {
    if (range_end(a) <= a.t0) return empty_state(a.m, a.k.layout.head_dim, a.out_max, a.out_sum, a.out_acc);
    return isa == Isa::Avx512 ? avx512::packed_attention(a) : avx2::packed_attention(a);
  }
  packed_attention_ref(a);
}

void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride) {
  if (t0 < 0 || t1 > k.tokens) throw std::invalid_argument("packed_scores: token range outside the store");
  if (t1 <= t0 || m <= 0) return;
  const Isa isa = active_isa();
  if (isa != Isa::Scalar && simd_supports_store(k))
    return isa == Isa::Avx512 ? avx512::packed_scores(q, q_stride, m, k, t0, t1, scores, score_stride)
                              : avx2::packed_scores(q, q_stride, m, k, t0, t1, scores, score_stride);
  packed_scores_ref(q, q_stride, m, k, t0, t1, scores, score_stride);
}

void attention_partial_f16(const AttnF16Args& a) {
  const Isa isa = active_isa();
  if (isa != Isa::Scalar && a.head_dim % 64 == 0 && a.head_dim <= kSimdMaxHeadDim && a.T > 0)
    return isa == Isa::Avx512 ? avx512::attention_partial_f16(a) : avx2::attention_partial_f16(a);
  attention_partial_f16_ref(a);
}

// ---- ZipCache mixed store -------------------------------------------------------------------------------------

namespace {
template <class Attn>
void mixed_impl(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* out_max, float* out_sum,
                float* out_acc, Attn attn) {
  const int D = kv.k_hi.layout.head_dim;
  std::vector<float> mx(m), sm(m), acc((size_t)m * D);
  PackedAttnArgs a;
  a.q = q;
  a.q_stride = q_stride;
  a.m = m;
  a.k = kv.k_hi;
  a.v = kv.v_hi;
  a.out_max = out_max;
  a.out_sum = out_sum;
  a.out_acc = out_acc;
  attn(a);
  a.k = kv.k_lo;
  a.v = kv.v_lo;
  a.out_max = mx.data();
  a.out_sum = sm.data();
  a.out_acc = acc.data();
  attn(a);
  for (int i = 0; i < m; ++i)
    merge_partial_row(out_max[i], out_sum[i], out_acc + (int64_t)i * D, mx[i], sm[i], acc.data() + (int64_t)i * D, D);
}
}  // namespace

void mixed_attention_ref(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* out_max, float* out_sum,
                         float* out_acc) {
  mixed_impl(q, q_stride, m, kv, out_max, out_sum, out_acc, [](const PackedAttnArgs& a) { packed_attention_ref(a); });
}

void mixed_attention(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* out_max, float* out_sum,
                     float* out_acc) {
  mixed_impl(q, q_stride, m, kv, out_max, out_sum, out_acc, [](const PackedAttnArgs& a) { packed_attention(a); });
}

void mixed_scores(const float* q, int64_t q_stride, int m, const MixedKv& kv, float* scores, int64_t score_stride) {
  const int64_t nh = kv.k_hi.tokens, nl = kv.k_lo.tokens;
  if (nh + nl != kv.tokens) throw std::invalid_argument("mixed_scores: class sizes do not add up to tokens");
  std::vector<float> sh((size_t)m * nh), sl((size_t)m * nl);
  packed_scores(q, q_stride, m, kv.k_hi, 0, nh, sh.data(), nh);
  packed_scores(q, q_stride, m, kv.k_lo, 0, nl, sl.data(), nl);
  for (int i = 0; i < m; ++i) {
    int64_t ih = 0, il = 0;
    for (int64_t t = 0; t < kv.tokens; ++t) {
      const bool hi = (kv.hi_mask[t / 64] >> (t % 64)) & 1u;
      scores[i * score_stride + t] = hi ? sh[(size_t)i * nh + ih++] : sl[(size_t)i * nl + il++];
    }
  }
}

}  // namespace bp::kern
