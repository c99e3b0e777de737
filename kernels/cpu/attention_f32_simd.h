#pragma once
// Vector flash attention over F32 keys/values (the new tokens of every forward call; prefill is the runtime's hot
// path), written once over kv_simd.h's Vec and compiled as attention_f32_avx2.cpp / attention_f32_avx512.cpp.
//   1. The visible keys are transposed once per call into blocks of kKB keys, channel-major (kt[blk][d][kKB]), so
//      Q·Kᵀ runs FMAs across keys: per channel, kKB/W key vectors are loaded once and every query row of the block
//      adds q[r][d] · keys with one broadcast.
//   2. Per block of kQB query rows, key blocks stream up to the causal limit of the block's last row; the online
//      softmax updates (max, sum) per row and rescales the accumulators only when a row's max grows.
//   3. P·V runs across head_dim: each value row is loaded once per pass and added into kPR rows' accumulators.
// Rows that see no key keep max = -inf, sum = 0, acc = 0 (the reference's convention).
// With few query rows (decode: the transposition would cost a full extra pass over the keys) the row-layout
// kernel of attention_rows_simd.h runs instead.
#include <cmath>
#include <cstdint>
#include <utility>

#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/attention_rows_simd.h"
#include "kernels/cpu/kv_simd.h"

namespace bp::kern::BP_SIMD_NS {

namespace flash {

using V = Vec;
using F = Vec::F;
constexpr int W = Vec::W;
constexpr int kKB = 2 * W;             // keys per block
constexpr int kQB = W == 16 ? 8 : 4;   // query rows per block: kQB × 2 score accumulators
constexpr int kPR = W == 16 ? 4 : 2;   // rows per P·V pass
constexpr int kPD = 4;                 // channel vectors per P·V pass

template <int N, class Fn>
inline void sfor(Fn&& f) {
  static_for<N>(f);
}
inline int64_t lmin(int64_t a, int64_t b) { return imin_(a, b); }
inline int64_t lmax(int64_t a, int64_t b) { return imax_(a, b); }

// s[r][0..kKB) = q_r · k_j for the NQ rows of the block and the key block at kt (channel-major).
template <int NQ>
inline void qk_block(const float* q, int64_t q_stride, const float* kt, int D, float* s) {
  F acc[NQ][2];
  sfor<NQ>([&](auto r) { acc[r][0] = acc[r][1] = V::zero(); });
  for (int d = 0; d < D; ++d) {
    const F k0 = V::load(kt + (int64_t)d * kKB), k1 = V::load(kt + (int64_t)d * kKB + W);
    sfor<NQ>([&](auto r) {
      const F qd = V::set1(q[decltype(r)::value * q_stride + d]);
      acc[r][0] = V::fmadd(qd, k0, acc[r][0]);
      acc[r][1] = V::fmadd(qd, k1, acc[r][1]);
    });
  }
  sfor<NQ>([&](auto r) {
    V::store(s + decltype(r)::value * kKB, acc[r][0]);
    V::store(s + decltype(r)::value * kKB + W, acc[r][1]);
  });
}

// acc_r[dc .. dc + kPD·W) = alpha_r · acc_r + Σ_{j < nk} p[r][j] · v_j for NR rows.
template <int NR>
inline void pv_pass(const float* p, const float* v, int64_t kv_stride, int nk, float* acc, int D, const float* alpha,
                    int dc) {
  F ac[NR][kPD];
  sfor<NR>([&](auto r) {
    const F al = V::set1(alpha[decltype(r)::value]);
    sfor<kPD>([&](auto j) {
      ac[r][j] = V::mul(V::load(acc + (int64_t)decltype(r)::value * D + dc + decltype(j)::value * W), al);
    });
  });
  for (int k = 0; k < nk; ++k) {
    const float* vr = v + k * kv_stride + dc;
    F vv[kPD];
    sfor<kPD>([&](auto j) { vv[j] = V::load(vr + decltype(j)::value * W); });
    sfor<NR>([&](auto r) {
      const F pr = V::set1(p[decltype(r)::value * kKB + k]);
      sfor<kPD>([&](auto j) { ac[r][j] = V::fmadd(pr, vv[j], ac[r][j]); });
    });
  }
  sfor<NR>([&](auto r) {
    sfor<kPD>([&](auto j) {
      V::store(acc + (int64_t)decltype(r)::value * D + dc + decltype(j)::value * W, ac[r][j]);
    });
  });
}

template <int N>
struct QkOp {
  static void run(const float* q, int64_t qs, const float* kt, int D, float* s) { qk_block<N>(q, qs, kt, D, s); }
};
template <int N>
struct PvOp {
  static void run(const float* p, const float* v, int64_t st, int nk, float* acc, int D, const float* al, int dc) {
    pv_pass<N>(p, v, st, nk, acc, D, al, dc);
  }
};

}  // namespace flash

// scratch: at least (T + kKB) · head_dim floats (packed_attention_isa.h: attention_f32_scratch_floats).
inline constexpr int kFlashMinRows = 8;  // below: attention_rows (no transposition)

inline void attention_f32_impl(const AttnF32Args& a, float* kt) {
  using namespace flash;
  if (a.m <= kFlashMinRows) {
    const rows::Args ra{a.q, a.q_stride, a.m, a.kv_stride, a.T, a.head_dim, a.causal_offset,
                        a.out_max, a.out_sum, a.out_acc};
    return attention_rows<float>(ra, a.k, a.v);
  }
  const int D = a.head_dim, m = a.m;
  const int64_t off = a.causal_offset;
  for (int i = 0; i < m; ++i) {
    a.out_max[i] = -INFINITY;
    a.out_sum[i] = 0.0f;
    for (int d = 0; d < D; ++d) a.out_acc[(int64_t)i * D + d] = 0.0f;
  }
  // Keys visible to any row: j <= (m - 1) + off.
  const int64_t Tv = lmax(0, lmin(a.T, (int64_t)(m - 1) + off + 1));
  if (Tv == 0) return;
  const int64_t nblk = (Tv + kKB - 1) / kKB;
  for (int64_t b = 0; b < nblk; ++b) {
    float* dst = kt + b * D * kKB;
    for (int j = 0; j < kKB; ++j) {
      const int64_t key = b * kKB + j;
      if (key < Tv) {
        const float* src = a.k + key * a.kv_stride;
        for (int d = 0; d < D; ++d) dst[(int64_t)d * kKB + j] = src[d];
      } else {
        for (int d = 0; d < D; ++d) dst[(int64_t)d * kKB + j] = 0.0f;
      }
    }
  }
  alignas(64) float s[kQB * kKB];
  alignas(64) float sumv[kQB * W];  // row sums kept as vectors, reduced once per query block
  float alpha[kQB];
  for (int i0 = 0; i0 < m; i0 += kQB) {
    const int nq = (int)lmin(kQB, m - i0);
    const int64_t kend = lmin(Tv, (int64_t)(i0 + nq - 1) + off + 1);  // keys the block's last row sees
    float* mx = a.out_max + i0;
    float* sum = a.out_sum + i0;
    float* acc = a.out_acc + (int64_t)i0 * D;
    const float* q = a.q + (int64_t)i0 * a.q_stride;
    for (int r = 0; r < kQB; ++r) V::store(sumv + r * W, V::zero());
    for (int64_t kb = 0; kb < kend; kb += kKB) {
      dispatch_n<kQB, QkOp>(nq, q, a.q_stride, kt + (kb / kKB) * D * kKB, D, s);
      int nk_max = 0;
      for (int r = 0; r < nq; ++r) {
        // keys of this block row r sees: kb .. min(limit_r, Tv - 1)
        const int nk = (int)lmax(0, lmin(lmin((int64_t)(i0 + r) + off + 1, Tv) - kb, kKB));
        float* sr = s + r * kKB;
        if (nk == 0) {  // nothing visible: contributes nothing, state unchanged
          for (int j = 0; j < kKB; ++j) sr[j] = 0.0f;
          alpha[r] = 1.0f;
          continue;
        }
        nk_max = nk > nk_max ? nk : nk_max;
        F x0 = V::load(sr), x1 = V::load(sr + W);
        if (nk < kKB) {  // only blocks crossing the row's causal limit or the end of the keys
          x0 = V::keep_first(x0, nk, -INFINITY);
          x1 = V::keep_first(x1, nk - W, -INFINITY);
        }
        const float tmax = V::hmax(V::max(x0, x1));
        const float m_new = mx[r] > tmax ? mx[r] : tmax;
        alpha[r] = mx[r] == -INFINITY ? 0.0f : (mx[r] == m_new ? 1.0f : std::exp(mx[r] - m_new));
        const F mv = V::set1(m_new);
        const F e0 = vexp(V::sub(x0, mv)), e1 = vexp(V::sub(x1, mv));
        V::store(sr, e0);
        V::store(sr + W, e1);
        V::store(sumv + r * W, V::fmadd(V::load(sumv + r * W), V::set1(alpha[r]), V::add(e0, e1)));
        mx[r] = m_new;
      }
      const float* vb = a.v + kb * a.kv_stride;
      for (int dc = 0; dc < D; dc += kPD * W)
        for (int r0 = 0; r0 < nq; r0 += kPR)
          dispatch_n<kPR, PvOp>((int)lmin(kPR, nq - r0), s + r0 * kKB, vb, a.kv_stride, nk_max,
                                   acc + (int64_t)r0 * D, D, alpha + r0, dc);
    }
    for (int r = 0; r < nq; ++r) sum[r] = V::hsum(V::load(sumv + r * W));
  }
}

}  // namespace bp::kern::BP_SIMD_NS
