#pragma once
// Vector attention probabilities (attention_probs.h), written once over kv_simd.h's Vec and compiled as
// attention_probs_avx2.cpp / attention_probs_avx512.cpp. Keys are taken W at a time and transposed into a small
// channel-major tile, so each query row's W scores come from head_dim FMAs with one broadcast of q[d]; the tile is
// reused by every row of the call. Rows that cannot see a key contribute nothing (masked lanes).
#include <cmath>
#include <cstdint>

#include "kernels/cpu/attention_probs.h"
#include "kernels/cpu/kv_simd.h"

namespace bp::kern::BP_SIMD_NS {

namespace probs {

using V = Vec;
using F = Vec::F;
constexpr int W = Vec::W;

inline void impl(const AttnProbArgs& a) {
  const int D = a.head_dim;
  alignas(64) float kt[256 * W];  // [d][W] tile of W keys
  alignas(64) float p[W];
  for (int64_t j0 = 0; j0 < a.T; j0 += W) {
    const int nk = (int)imin_(W, a.T - j0);
    // First row that sees key j0: i + causal_offset >= j0.
    const int64_t i_first = imax_(0, j0 - a.causal_offset);
    if (i_first >= a.m) break;  // later key tiles are seen by no row either
    for (int jj = 0; jj < W; ++jj) {
      const float* k = a.k + (j0 + (jj < nk ? jj : 0)) * a.k_stride;
      for (int d = 0; d < D; ++d) kt[d * W + jj] = k[d];
    }
    F colacc = V::zero();
    for (int64_t i = i_first; i < a.m; ++i) {
      const float* q = a.q + i * a.q_stride;
      F s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
      for (int d = 0; d < D; d += 4) {
        s0 = V::fmadd(V::set1(q[d]), V::load(kt + (d + 0) * W), s0);
        s1 = V::fmadd(V::set1(q[d + 1]), V::load(kt + (d + 1) * W), s1);
        s2 = V::fmadd(V::set1(q[d + 2]), V::load(kt + (d + 2) * W), s2);
        s3 = V::fmadd(V::set1(q[d + 3]), V::load(kt + (d + 3) * W), s3);
      }
      const F s = V::add(V::add(s0, s1), V::add(s2, s3));
      F pv = V::mul(vexp(V::sub(s, V::set1(a.row_max[i]))), V::set1(1.0f / a.row_sum[i]));
      // Visible keys of this row inside the tile: j <= i + causal_offset and j < T.
      const int64_t vis = imin_(nk, i + a.causal_offset - j0 + 1);
      pv = V::keep_first(pv, (int)vis, 0.0f);
      colacc = V::add(colacc, pv);
      if (a.probs) {
        V::store(p, pv);
        float* row = a.probs + i * a.probs_stride + j0;
        for (int jj = 0; jj < vis; ++jj) row[jj] += p[jj];
      }
    }
    if (a.col_sum) {
      V::store(p, colacc);
      for (int jj = 0; jj < nk; ++jj) a.col_sum[j0 + jj] += p[jj];
    }
  }
}

inline void add_from_scores(const float* s, int n, float max, float sum, float* out) {
  const F vm = V::set1(max), vi = V::set1(1.0f / sum);
  int j = 0;
  for (; j + W <= n; j += W) V::store(out + j, V::add(V::load(out + j), V::mul(vexp(V::sub(V::load(s + j), vm)), vi)));
  for (; j < n; ++j) out[j] += std::exp(s[j] - max) / sum;
}

}  // namespace probs

void attention_probs_f32(const AttnProbArgs& a) { probs::impl(a); }
void add_probs_from_scores(const float* s, int n, float max, float sum, float* out) {
  probs::add_from_scores(s, n, max, sum, out);
}

}  // namespace bp::kern::BP_SIMD_NS
