#pragma once
// Shared by the vector attention kernels (include only from *_avx2.cpp / *_avx512.cpp, see kv_simd.h):
//   softmax_tile      the online-softmax update over a tile of 64 scores per query row;
//   attention_rows    attention of a few query rows over row-layout K/V (F32 or FP16 bits) with an optional causal
//                     offset: keys are read in their own layout (no transposition), scores are per-key dot products
//                     across channels. The decode path of attention_partial_f32 and the FP16-cache kernel.
#include <cmath>
#include <cstdint>

#include "kernels/cpu/kv_simd.h"

namespace bp::kern::BP_SIMD_NS {

inline constexpr int kScoreTile = 64;   // scores per row and tile (= kKeyTile of the packed layouts)
inline constexpr int kRowBlock = 16;    // query rows per block
inline constexpr int kRowsMaxD = 256;   // largest head_dim (stack scratch)

// sc[r·64 + i] holds raw scores of row r. Tokens of row r outside [lo, hi_r) are ignored, hi_r = hi_rows[r] (or
// hi when hi_rows is null). Replaces the scores by p = exp(s - max_new), updates mx/sum and writes the factor
// alpha[r] by which the row's accumulators must be rescaled. A row that has seen no token yet keeps max = -inf,
// gets p = 0 and alpha = 1.
inline void softmax_tile(float* sc, int nr, int lo, int hi, const int* hi_rows, float* mx, float* sum, float* alpha) {
  using V = Vec;
  constexpr int W = V::W;
  for (int r = 0; r < nr; ++r) {
    float* s = sc + r * kScoreTile;
    const int h = hi_rows ? hi_rows[r] : hi;
    V::F vmax = V::set1(-INFINITY);
    for (int u = 0; u < kScoreTile; u += W) {
      V::F x = V::keep_first(V::load(s + u), h - u, -INFINITY);
      if (lo > u) {  // lanes before lo (only in a range's first tile)
        alignas(64) float tmp[W];
        V::store(tmp, x);
        for (int i = 0; i < W && u + i < lo; ++i) tmp[i] = -INFINITY;
        x = V::load(tmp);
      }
      V::store(s + u, x);
      vmax = V::max(vmax, x);
    }
    const float tmax = V::hmax(vmax);
    const float m_new = mx[r] > tmax ? mx[r] : tmax;
    if (m_new == -INFINITY) {  // nothing visible so far
      for (int u = 0; u < kScoreTile; u += W) V::store(s + u, V::zero());
      alpha[r] = 1.0f;
      continue;
    }
    alpha[r] = mx[r] == -INFINITY ? 0.0f : (mx[r] == m_new ? 1.0f : std::exp(mx[r] - m_new));
    const V::F mv = V::set1(m_new);
    V::F vs = V::zero();
    for (int u = 0; u < kScoreTile; u += W) {
      const V::F e = vexp(V::sub(V::load(s + u), mv));
      V::store(s + u, e);
      vs = V::add(vs, e);
    }
    sum[r] = sum[r] * alpha[r] + V::hsum(vs);
    mx[r] = m_new;
  }
}

namespace rows {

using V = Vec;
using F = Vec::F;
constexpr int W = Vec::W;
constexpr int kDV = 4;                // channel vectors per value pass
constexpr int kRV = W == 16 ? 4 : 2;  // rows per value pass
constexpr int kRS = 4;                // rows per score pass

inline F load(const float* p) { return V::load(p); }
inline F load(const uint16_t* p) { return V::load_f16(p); }

struct Args {
  const float* q;
  int64_t q_stride;
  int m;
  int64_t kv_stride;
  int64_t T;
  int D;
  int64_t causal_offset;  // row i sees keys j <= i + causal_offset
  float* out_max;
  float* out_sum;
  float* out_acc;
};

// sc[r][i] = q_r · k_{tile0 + i} for i < n, rows [r0, r0 + R).
template <int R>
struct ScoreRows {
  template <class E>
  static void run(const float* q, int D, const E* k, const E* v, int64_t kv_stride, int64_t tile0, int n, int n_next,
                  int r0, float* sc) {
    for (int i = 0; i < n; ++i) {
      const E* kr = k + (tile0 + i) * kv_stride;
      if (i < n_next) {  // the same token of the next tile, spread over the loop
        prefetch_bytes(kr + kScoreTile * kv_stride, (int64_t)D * sizeof(E));
        prefetch_bytes(v + (tile0 + kScoreTile + i) * kv_stride, (int64_t)D * sizeof(E));
      }
      F s[R];
      static_for<R>([&](auto r) { s[r] = V::zero(); });
      for (int d = 0; d < D; d += W) {
        const F kv = load(kr + d);
        static_for<R>([&](auto r) { s[r] = V::fmadd(V::load(q + (r0 + r) * D + d), kv, s[r]); });
      }
      static_for<R>([&](auto r) { sc[(r0 + r) * kScoreTile + i] = V::hsum(s[r]); });
    }
  }
};

// acc_r[dc .. dc + kDV·W) = alpha_r · acc_r + Σ_{i < n} p[r][i] · v_{tile0 + i}, rows [r0, r0 + R).
template <int R>
struct ValueRows {
  template <class E>
  static void run(const E* v, int64_t kv_stride, int64_t tile0, int n, const float* p, float* acc, int D,
                  const float* alpha, int r0, int dc) {
    F ac[R][kDV];
    static_for<R>([&](auto r) {
      static_for<kDV>([&](auto j) {
        ac[r][j] = V::mul(V::load(acc + (int64_t)(r0 + r) * D + dc + j * W), V::set1(alpha[r0 + r]));
      });
    });
    for (int i = 0; i < n; ++i) {
      const E* vr = v + (tile0 + i) * kv_stride + dc;
      F vv[kDV];
      static_for<kDV>([&](auto j) { vv[j] = load(vr + j * W); });
      static_for<R>([&](auto r) {
        const F pr = V::set1(p[(r0 + r) * kScoreTile + i]);
        static_for<kDV>([&](auto j) { ac[r][j] = V::fmadd(pr, vv[j], ac[r][j]); });
      });
    }
    static_for<R>([&](auto r) {
      static_for<kDV>([&](auto j) { V::store(acc + (int64_t)(r0 + r) * D + dc + j * W, ac[r][j]); });
    });
  }
};

template <int R>
struct ScoreOp {
  template <class... A>
  static void run(A&&... a) { ScoreRows<R>::run(a...); }
};
template <int R>
struct ValueOp {
  template <class... A>
  static void run(A&&... a) { ValueRows<R>::run(a...); }
};

}  // namespace rows

// Needs head_dim % (4·W) == 0 and head_dim <= kRowsMaxD.
template <class E>
void attention_rows(const rows::Args& a, const E* k, const E* v) {
  using namespace rows;
  const int D = a.D;
  alignas(64) static thread_local float q[kRowBlock * kRowsMaxD];
  alignas(64) static thread_local float sc[kRowBlock * kScoreTile];
  for (int i = 0; i < a.m; ++i) {
    a.out_max[i] = -INFINITY;
    a.out_sum[i] = 0.0f;
    for (int d = 0; d < D; ++d) a.out_acc[(int64_t)i * D + d] = 0.0f;
  }
  for (int rb = 0; rb < a.m; rb += kRowBlock) {
    const int nr = (int)imin_(kRowBlock, a.m - rb);
    float* mx = a.out_max + rb;
    float* sum = a.out_sum + rb;
    float* acc = a.out_acc + (int64_t)rb * D;
    for (int r = 0; r < nr; ++r)
      for (int d = 0; d < D; ++d) q[r * D + d] = a.q[(rb + r) * a.q_stride + d];
    const int64_t t_vis = imin_(a.T, (int64_t)(rb + nr - 1) + a.causal_offset + 1);  // keys the last row sees
    float alpha[kRowBlock];
    int hi[kRowBlock];
    for (int64_t tile0 = 0; tile0 < t_vis; tile0 += kScoreTile) {
      const int n = (int)imin_(kScoreTile, t_vis - tile0);
      const int n_next = (int)imin_(kScoreTile, t_vis - tile0 - n);
      for (int r0 = 0; r0 < nr; r0 += kRS)
        dispatch_n<kRS, ScoreOp>((int)imin_(kRS, nr - r0), q, D, k, v, a.kv_stride, tile0, n, r0 == 0 ? n_next : 0,
                                 r0, sc);
      int n_used = 0;
      for (int r = 0; r < nr; ++r) {
        hi[r] = (int)imax_(0, imin_((int64_t)(rb + r) + a.causal_offset + 1 - tile0, n));
        n_used = hi[r] > n_used ? hi[r] : n_used;
      }
      softmax_tile(sc, nr, 0, n, hi, mx, sum, alpha);
      for (int dc = 0; dc < D; dc += kDV * W)
        for (int r0 = 0; r0 < nr; r0 += kRV)
          dispatch_n<kRV, ValueOp>((int)imin_(kRV, nr - r0), v, a.kv_stride, tile0, n_used, sc, acc, D, alpha, r0, dc);
    }
  }
}

}  // namespace bp::kern::BP_SIMD_NS
