#include "harness/runtime/kv/rows_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "harness/runtime/kv/partial.h"
#include "kernels/cpu/fp16_convert.h"
#include "kernels/cpu/kv_quant.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::rt::kv {

namespace {
constexpr int64_t kBlock = 256;  // tokens handled at a time on the mixed path (their F32 rows stay in L2)
}  // namespace

void read_rows(const Rows& r, int D, int64_t r0, int64_t n, float* x, int64_t stride) {
  if (n <= 0) return;
  if (r.packed) {
    kern::kv_dequantize(*r.packed, r.t0 + r0, (int)n, x, stride);
    return;
  }
  for (int64_t i = 0; i < n; ++i) kern::f16_to_f32_array(r.f16 + (r0 + i) * r.f16_stride, x + i * stride, (size_t)D);
}

void score_rows(const float* q, int64_t q_stride, int m, int D, const Rows& k, int64_t n, float* scores,
                int64_t score_stride) {
  if (n <= 0 || m <= 0) return;
  if (k.packed) {
    kern::packed_scores(q, q_stride, m, *k.packed, k.t0, k.t0 + n, scores, score_stride);
    return;
  }
  std::vector<float> kt((size_t)std::min(n, kBlock) * D);
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t b1 = std::min(n, b0 + kBlock);
    read_rows(k, D, b0, b1 - b0, kt.data(), D);
    for (int i = 0; i < m; ++i)
      for (int64_t t = b0; t < b1; ++t) {
        const float* kr = kt.data() + (t - b0) * D;
        const float* qr = q + i * q_stride;
        float s = 0.0f;
        for (int d = 0; d < D; ++d) s += qr[d] * kr[d];
        scores[i * score_stride + t] = s;
      }
  }
}

void attend_rows(const float* q, int64_t q_stride, int m, int D, const Rows& k, const Rows& v, int64_t n, float* max,
                 float* sum, float* acc) {
  if (n <= 0) {
    partial_clear(m, D, max, sum, acc);
    return;
  }
  // Same form on both sides: the kernels read the storage directly.
  if (k.packed && v.packed && k.t0 == v.t0) {
    kern::PackedAttnArgs a;
    a.q = q;
    a.q_stride = q_stride;
    a.m = m;
    a.k = *k.packed;
    a.v = *v.packed;
    a.t0 = k.t0;
    a.t1 = k.t0 + n;
    a.out_max = max;
    a.out_sum = sum;
    a.out_acc = acc;
    kern::packed_attention(a);
    return;
  }
  if (!k.packed && !v.packed && k.f16_stride == v.f16_stride && n <= INT32_MAX) {
    kern::AttnF16Args a;
    a.q = q;
    a.q_stride = q_stride;
    a.m = m;
    a.k = k.f16;
    a.v = v.f16;
    a.kv_stride = k.f16_stride;
    a.T = (int)n;
    a.head_dim = D;
    a.out_max = max;
    a.out_sum = sum;
    a.out_acc = acc;
    kern::attention_partial_f16(a);
    return;
  }
  // Mixed forms: a block of scores, its softmax partial over the block's F32 value rows, merged block by block.
  partial_clear(m, D, max, sum, acc);
  const int64_t cap = std::min(n, kBlock);
  std::vector<float> sc((size_t)m * cap), vt((size_t)cap * D);
  Partial p;
  p.resize(m, D);
  for (int64_t b0 = 0; b0 < n; b0 += kBlock) {
    const int64_t len = std::min(n, b0 + kBlock) - b0;
    Rows kb = k;
    if (kb.packed) kb.t0 += b0; else kb.f16 += b0 * kb.f16_stride;
    score_rows(q, q_stride, m, D, kb, len, sc.data(), cap);
    read_rows(v, D, b0, len, vt.data(), D);
    for (int i = 0; i < m; ++i) {
      const float* s = sc.data() + (size_t)i * cap;
      const float mx = *std::max_element(s, s + len);
      float sm = 0.0f;
      float* a = p.acc.data() + (size_t)i * D;
      std::fill(a, a + D, 0.0f);
      for (int64_t t = 0; t < len; ++t) {
        const float w = std::exp(s[t] - mx);
        sm += w;
        const float* vr = vt.data() + t * D;
        for (int d = 0; d < D; ++d) a[d] += w * vr[d];
      }
      p.max[i] = mx;
      p.sum[i] = sm;
    }
    p.merge_into(m, D, max, sum, acc);
  }
}

}  // namespace bp::rt::kv
