#pragma once
// Vector implementation of packed_attention / packed_scores, written once over the Vec type
// of kv_simd.h and compiled twice (packed_attention_avx2.cpp, packed_attention_avx512.cpp). Include only there.
//
// Per row block (up to kRB query rows) the kernel streams the key tiles of the token range once:
//   scores  lanes = tokens of the tile (key tiles are channel-major): for each channel d, one load + widen of the
//           run gives the codes of W tokens per shift, and every row of the pass does one FMA with a broadcast
//           coefficient. Per-channel keys fold the scale into the coefficient (q_d·s_d) and the minimum into a
//           per-row bias (Σ_d q_d·min_d); per-token keys accumulate each channel group separately and apply
//           (scale_t, min_t) per token lane at the end of the group (min via Σ_{d in g} q_d).
//   softmax online over the tile (vexp), rescaling the running sums when the maximum grows.
//   values  lanes = channels (value rows are token-major): each token's row is decoded and dequantized once in
//           registers (code·scale + min) and added into the accumulators of every row of the pass.
// Channel normalizers (ZipCache) multiply the accumulators once at the end.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "kernels/cpu/attention_rows_simd.h"
#include "kernels/cpu/kv_simd.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::kern::BP_SIMD_NS {

using V = Vec;
using F = Vec::F;
constexpr int W = Vec::W;
constexpr int kTV = 4;                 // channel vectors per value pass
constexpr int kTVK = W == 16 ? 4 : 2;  // token vectors per score pass
constexpr int kRK = 4;                 // rows per score pass (register budget: kRK·kTVK accumulators)
constexpr int kRV = W == 16 ? 4 : 2;   // rows per value pass
constexpr int kRB = 16;                // rows per block: every packed byte is streamed once per block
constexpr int kMaxD = 256;
constexpr int kPasses = kKeyTile / (kTVK * W);  // score passes per tile (1 for AVX-512, 4 for AVX2)

// Vector u of a run made of full 16-byte chunks holds codes [uW, uW + W): byte offset of its load and its shift
// (quant_math.h: code i of a chunk sits in byte i % 16 at bits b·(i / 16)).
constexpr int vec_byte(int bits, int u) {
  const int k = 8 / bits, first = u * W, c = first / (16 * k), o = first - c * 16 * k;
  return 16 * c + ((o % 16) / W) * W;
}
constexpr int vec_shift(int bits, int u) { return bits * ((u * W) % (16 * (8 / bits)) / 16); }

template <int B, int U>
inline F decode_vec(const uint8_t* run) {
  return V::codes<vec_shift(B, U), (1 << B) - 1>(V::load_bytes(run + vec_byte(B, U)));
}

// ---- scores ----------------------------------------------------------------------------------------------------

// acc[r][j] = Σ_{d in [d0, d1)} coef(r, u)[d] · code(token u·W + lane, d), u = P·kTVK + j. coef(r, u) is cf[r][0],
// or cf[r][1] for the second half of the tile when TwoGroups (per-channel keys whose group boundaries may fall
// in the middle of a tile: G % 64 != 0).
template <int B, int R, int P, bool TwoGroups>
inline void dot_pass(const uint8_t* tile, int d0, int d1, const float* const (*cf)[2], F (&acc)[kRK][kTVK]) {
  constexpr int run_bytes = kKeyTile * B / 8;
  static_for<R>([&](auto r) { static_for<kTVK>([&](auto j) { acc[r][j] = V::zero(); }); });
  for (int d = d0; d < d1; ++d) {
    const uint8_t* run = tile + (int64_t)d * run_bytes;
    F cv[kTVK];
    static_for<kTVK>([&](auto j) { cv[j] = decode_vec<B, P * kTVK + decltype(j)::value>(run); });
    static_for<R>([&](auto r) {
      const F c0 = V::set1(cf[r][0][d]);
      const F c1 = TwoGroups ? V::set1(cf[r][1][d]) : c0;
      static_for<kTVK>([&](auto j) {
        constexpr bool second = TwoGroups && ((P * kTVK + decltype(j)::value) * W) >= 32;
        acc[r][j] = V::fmadd(second ? c1 : c0, cv[j], acc[r][j]);
      });
    });
  }
}

// Scores of rows [0, nr) of a block against the 64 tokens of tile `tile`: sc[r·64 + i].
struct ScoreCtx {
  const PackedKv* k;
  int D;
  int nr;
  const float* q;        // [nr][D], contiguous copy of the block's rows
  float* qf;             // per-channel: [nr][2][D] folded coefficients
  float* bias;           // per-channel: [nr][2]
  const float* qsum;     // per-token: [nr][groups]
  int64_t cached_group;  // per-channel: group whose coefficients qf/bias hold (-1: none)
  int64_t last_group;    // per-channel: last group with tokens in the range
};

// Per-channel keys: coefficients q_d·s_{g,d} and bias Σ_d q_d·min_{g,d} for group g into slot `slot`.
inline void fold_group(ScoreCtx& c, int64_t g, int slot) {
  const KvLayout& L = c.k->layout;
  const int D = c.D;
  const uint16_t* s = c.k->scales + g * D;
  const uint16_t* mn = L.symmetric ? nullptr : c.k->mins + g * D;
  const float zsym = -(float)(1 << (L.bits - 1));
  for (int r = 0; r < c.nr; ++r) {
    const float* q = c.q + r * D;
    float* qf = c.qf + ((int64_t)r * 2 + slot) * D;
    F b = V::zero();
    for (int d = 0; d < D; d += W) {
      const F sv = V::load_f16(s + d);
      const F qv = V::load(q + d);
      V::store(qf + d, V::mul(qv, sv));
      b = V::fmadd(qv, mn ? V::load_f16(mn + d) : V::mul(sv, V::set1(zsym)), b);
    }
    c.bias[r * 2 + slot] = V::hsum(b);
  }
}

template <int B, bool TwoGroups>
void scores_per_channel(ScoreCtx& c, int64_t tile, float* sc) {
  const KvLayout& L = c.k->layout;
  const int G = L.group;
  const int64_t g0 = G == 0 ? 0 : (tile * kKeyTile) / G;
  if (TwoGroups) {
    fold_group(c, g0, 0);
    // tokens 32..63 of the tile; a group past the range (no stats stored) is never read as a score
    fold_group(c, imin_((tile * kKeyTile + 32) / G, c.last_group), 1);
  } else if (g0 != c.cached_group) {
    fold_group(c, g0, 0);
    c.cached_group = g0;
  }
  const uint8_t* codes = c.k->codes + tile * ((int64_t)c.D * kKeyTile * B / 8);
  for (int r0 = 0; r0 < c.nr; r0 += kRK) {
    const int R = (int)imin_(kRK, c.nr - r0);
    const float* cf[kRK][2];
    for (int r = 0; r < kRK; ++r) {
      const int rr = r0 + (r < R ? r : 0);
      cf[r][0] = c.qf + (int64_t)rr * 2 * c.D;
      cf[r][1] = cf[r][0] + c.D;
    }
    static_for<kPasses>([&](auto PC) {
      constexpr int P = decltype(PC)::value;
      F acc[kRK][kTVK];
      auto run = [&](auto RC) {
        dot_pass<B, decltype(RC)::value, P, TwoGroups>(codes, 0, c.D, cf, acc);
        static_for<decltype(RC)::value>([&](auto r) {
          static_for<kTVK>([&](auto j) {
            constexpr int u = P * kTVK + decltype(j)::value;
            constexpr int slot = (TwoGroups && u * W >= 32) ? 1 : 0;
            V::store(sc + (r0 + r) * kKeyTile + u * W, V::add(acc[r][j], V::set1(c.bias[(r0 + r) * 2 + slot])));
          });
        });
      };
      if constexpr (kRK == 4) {
        switch (R) {
          case 4: run(std::integral_constant<int, 4>{}); break;
          case 3: run(std::integral_constant<int, 3>{}); break;
          case 2: run(std::integral_constant<int, 2>{}); break;
          default: run(std::integral_constant<int, 1>{}); break;
        }
      } else {
        if (R == 2) run(std::integral_constant<int, 2>{});
        else run(std::integral_constant<int, 1>{});
      }
    });
  }
}

template <int B>
void scores_per_token(ScoreCtx& c, int64_t tile, float* sc) {
  const KvLayout& L = c.k->layout;
  const int D = c.D, G = L.group == 0 ? D : L.group, groups = D / G;
  const uint8_t* codes = c.k->codes + tile * ((int64_t)D * kKeyTile * B / 8);
  const float zsym = -(float)(1 << (B - 1));
  for (int g = 0; g < groups; ++g) {
    const int64_t stat0 = (tile * groups + g) * kKeyTile;
    for (int r0 = 0; r0 < c.nr; r0 += kRK) {
      const int R = (int)imin_(kRK, c.nr - r0);
      const float* cf[kRK][2];
      for (int r = 0; r < kRK; ++r) cf[r][0] = cf[r][1] = c.q + (int64_t)(r0 + (r < R ? r : 0)) * D;
      static_for<kPasses>([&](auto PC) {
        constexpr int P = decltype(PC)::value;
        F acc[kRK][kTVK];
        auto run = [&](auto RC) {
          dot_pass<B, decltype(RC)::value, P, false>(codes, g * G, (g + 1) * G, cf, acc);
          static_for<kTVK>([&](auto j) {
            constexpr int u = P * kTVK + decltype(j)::value;
            const F s = V::load_f16(c.k->scales + stat0 + u * W);
            const F mn = L.symmetric ? V::mul(s, V::set1(zsym)) : V::load_f16(c.k->mins + stat0 + u * W);
            static_for<decltype(RC)::value>([&](auto r) {
              float* out = sc + (r0 + r) * kKeyTile + u * W;
              const F prev = g == 0 ? V::zero() : V::load(out);
              V::store(out, V::fmadd(s, acc[r][j], V::fmadd(mn, V::set1(c.qsum[(r0 + r) * groups + g]), prev)));
            });
          });
        };
        if constexpr (kRK == 4) {
          switch (R) {
            case 4: run(std::integral_constant<int, 4>{}); break;
            case 3: run(std::integral_constant<int, 3>{}); break;
            case 2: run(std::integral_constant<int, 2>{}); break;
            default: run(std::integral_constant<int, 1>{}); break;
          }
        } else {
          if (R == 2) run(std::integral_constant<int, 2>{});
          else run(std::integral_constant<int, 1>{});
        }
      });
    }
  }
}

using ScoreFn = void (*)(ScoreCtx&, int64_t, float*);

inline ScoreFn pick_scores(const KvLayout& L) {
  if (L.axis == KvAxis::PerToken) {
    switch (L.bits) {
      case 2: return scores_per_token<2>;
      case 4: return scores_per_token<4>;
      default: return scores_per_token<8>;
    }
  }
  const bool two = L.group % 64 != 0;  // group 0 (all tokens) is 0 % 64
  switch (L.bits) {
    case 2: return two ? scores_per_channel<2, true> : scores_per_channel<2, false>;
    case 4: return two ? scores_per_channel<4, true> : scores_per_channel<4, false>;
    default: return two ? scores_per_channel<8, true> : scores_per_channel<8, false>;
  }
}

// Block-level setup shared by attention and scores: contiguous rows, per-group query sums, scratch.
struct BlockScratch {
  alignas(64) float q[kRB * kMaxD];
  alignas(64) float qf[kRB * 2 * kMaxD];
  alignas(64) float bias[kRB * 2];
  alignas(64) float qsum[kRB * kMaxD];
  alignas(64) float sc[kRB * kKeyTile];
};

inline ScoreCtx make_ctx(BlockScratch& s, const PackedKv& k, const float* q, int64_t q_stride, int nr, int64_t t1) {
  const KvLayout& L = k.layout;
  const int D = L.head_dim;
  ScoreCtx c{&k, D, nr, s.q, s.qf, s.bias, s.qsum, -1, 0};
  for (int r = 0; r < nr; ++r)
    for (int d = 0; d < D; ++d) s.q[r * D + d] = q[r * q_stride + d];
  if (L.axis == KvAxis::PerToken) {
    const int G = L.group == 0 ? D : L.group, groups = D / G;
    for (int r = 0; r < nr; ++r)
      for (int g = 0; g < groups; ++g) {
        float a = 0.0f;
        for (int d = g * G; d < (g + 1) * G; ++d) a += s.q[r * D + d];
        s.qsum[r * groups + g] = a;
      }
  } else {
    c.last_group = L.group == 0 ? 0 : (t1 - 1) / L.group;
  }
  return c;
}

// ---- values ----------------------------------------------------------------------------------------------------

struct ValueCtx {
  const PackedKv* v;
  int D;
  int groups;  // per-token: channel groups per token
};

// FP32 copies of a tile's per-token value statistics (converted once per tile, shared by every pass):
// s[(t - ta)·groups + g], mn[...] for tokens [ta, tb).
struct TileStats {
  alignas(64) float s[kKeyTile * (kMaxD / 16)];
  alignas(64) float mn[kKeyTile * (kMaxD / 16)];
};

inline void convert_halves(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) V::store(dst + i, V::load_f16(src + i));
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

// One token: decode the kTV channel vectors of its row, dequantize (code·s + mn), add p_r · value to R rows.
// `run` is the row's bytes from the 16-byte chunk holding channel d0; Phase = which kTV·W-code slice of that chunk
// (only AVX2 2-bit rows have two), so every load offset and shift is a compile-time constant.
// p points at the token's probability in row 0 of the tile's p[kRB][64].
template <int B, int R, int Phase>
inline void accumulate_token(const uint8_t* run, const F (&s)[kTV], const F (&mn)[kTV], const float* p, int r0,
                             F (&acc)[R][kTV]) {
  F val[kTV];
  static_for<kTV>([&](auto j) {
    val[j] = V::fmadd(decode_vec<B, Phase * kTV + decltype(j)::value>(run), s[j], mn[j]);
  });
  static_for<R>([&](auto r) {
    const F pr = V::set1(p[(r0 + r) * kKeyTile]);
    static_for<kTV>([&](auto j) { acc[r][j] = V::fmadd(pr, val[j], acc[r][j]); });
  });
}

// acc_rows[r][d0 ..] = alpha[r]·acc + Σ_{t in [ta, tb)} p[r][t - tile0] · value(t) for rows [r0, r0 + R) and channel
// vectors j of chunk dc (d0 = dc·kTV·W). Each token row is decoded and dequantized once for the R rows.
// OneGroup: the kTV channel vectors share one per-token group (G % (kTV·W) == 0).
template <int B, int R, bool OneGroup, int Phase>
void value_pass(const ValueCtx& c, const TileStats& ts, int64_t ta, int64_t tb, int64_t tile0, const float* p,
                float* acc_rows, const float* alpha, int r0, int dc) {
  const KvLayout& L = c.v->layout;
  const int D = c.D;
  constexpr int k = 8 / B;
  const int64_t row_bytes = (int64_t)D * B / 8;
  const int d0 = dc * kTV * W;
  const int64_t chunk_byte = (d0 / (16 * k)) * 16;  // the chunk holding channel d0
  F acc[R][kTV];
  static_for<R>([&](auto r) {
    static_for<kTV>([&](auto j) {
      acc[r][j] = V::mul(V::load(acc_rows + (int64_t)(r0 + r) * D + d0 + j * W), V::set1(alpha[r0 + r]));
    });
  });
  F s[kTV], mn[kTV];
  if (L.axis == KvAxis::PerToken) {
    const int G = L.group == 0 ? D : L.group;
    int gj[kTV];
    for (int j = 0; j < kTV; ++j) gj[j] = (d0 + j * W) / G;
    for (int64_t t = ta; t < tb; ++t) {
      const int64_t base = (t - ta) * c.groups;
      if constexpr (OneGroup) {
        const F s0 = V::set1(ts.s[base + gj[0]]), m0 = V::set1(ts.mn[base + gj[0]]);
        static_for<kTV>([&](auto j) { s[j] = s0, mn[j] = m0; });
      } else {
        static_for<kTV>([&](auto j) {
          s[j] = V::set1(ts.s[base + gj[j]]);
          mn[j] = V::set1(ts.mn[base + gj[j]]);
        });
      }
      accumulate_token<B, R, Phase>(c.v->codes + t * row_bytes + chunk_byte, s, mn, p + (t - tile0), r0, acc);
    }
  } else {
    // Per channel: tokens in segments sharing one token group; the stat vectors are loaded once per segment.
    const int G = L.group;
    const float zsym = -(float)(1 << (B - 1));
    for (int64_t t = ta; t < tb;) {
      const int64_t g = G == 0 ? 0 : t / G;
      const int64_t te = G == 0 ? tb : imin_(tb, (g + 1) * G);
      const int64_t si = g * D + d0;
      static_for<kTV>([&](auto j) {
        s[j] = V::load_f16(c.v->scales + si + j * W);
        mn[j] = L.symmetric ? V::mul(s[j], V::set1(zsym)) : V::load_f16(c.v->mins + si + j * W);
      });
      for (; t < te; ++t)
        accumulate_token<B, R, Phase>(c.v->codes + t * row_bytes + chunk_byte, s, mn, p + (t - tile0), r0, acc);
    }
  }
  static_for<R>([&](auto r) {
    static_for<kTV>([&](auto j) { V::store(acc_rows + (int64_t)(r0 + r) * D + d0 + j * W, acc[r][j]); });
  });
}

template <int B, bool OneGroup, int Phase>
struct ValuePassOp {
  template <int R>
  struct Op {
    template <class... A>
    static void run(A&&... a) { value_pass<B, R, OneGroup, Phase>(a...); }
  };
};

// Rows of the block in passes of kRV, channel chunks of kTV·W; picks the compile-time variant of each pass.
template <int B, bool OneGroup>
void value_passes(const ValueCtx& c, const TileStats& ts, int nr, int64_t ta, int64_t tb, int64_t tile0,
                  const float* p, float* acc_rows, const float* alpha) {
  constexpr int chunk_codes = 16 * (8 / B);
  constexpr bool two_phases = chunk_codes > kTV * W;  // AVX2, 2-bit
  for (int dc = 0; dc < c.D / (kTV * W); ++dc)
    for (int r0 = 0; r0 < nr; r0 += kRV) {
      const int R = (int)imin_(kRV, nr - r0);
      const int phase = two_phases ? ((dc * kTV * W) % chunk_codes) / (kTV * W) : 0;
      if (phase == 0)
        dispatch_n<kRV, ValuePassOp<B, OneGroup, 0>::template Op>(R, c, ts, ta, tb, tile0, p, acc_rows, alpha, r0, dc);
      else if constexpr (two_phases)
        dispatch_n<kRV, ValuePassOp<B, OneGroup, 1>::template Op>(R, c, ts, ta, tb, tile0, p, acc_rows, alpha, r0, dc);
    }
}

template <int B>
void values_tile(const ValueCtx& c, int nr, int64_t ta, int64_t tb, int64_t tile0, const float* p, float* acc_rows,
                 const float* alpha) {
  const KvLayout& L = c.v->layout;
  static thread_local TileStats ts;
  bool one_group = false;
  if (L.axis == KvAxis::PerToken) {
    const int G = L.group == 0 ? c.D : L.group;
    one_group = G % (kTV * W) == 0;
    const int64_t n = (tb - ta) * c.groups;
    convert_halves(c.v->scales + ta * c.groups, ts.s, n);
    if (L.symmetric) {
      const F z = V::set1(-(float)(1 << (B - 1)));
      int64_t i = 0;
      for (; i + W <= n; i += W) V::store(ts.mn + i, V::mul(V::load(ts.s + i), z));
      for (; i < n; ++i) ts.mn[i] = ts.s[i] * -(float)(1 << (B - 1));
    } else {
      convert_halves(c.v->mins + ta * c.groups, ts.mn, n);
    }
  }
  if (one_group) value_passes<B, true>(c, ts, nr, ta, tb, tile0, p, acc_rows, alpha);
  else value_passes<B, false>(c, ts, nr, ta, tb, tile0, p, acc_rows, alpha);
}

using ValueFn = void (*)(const ValueCtx&, int, int64_t, int64_t, int64_t, const float*, float*, const float*);

inline ValueFn pick_values(const KvLayout& L) {
  switch (L.bits) {
    case 2: return values_tile<2>;
    case 4: return values_tile<4>;
    default: return values_tile<8>;
  }
}

// ---- entry points ----------------------------------------------------------------------------------------------

inline void packed_attention_impl(const PackedAttnArgs& a) {
  const int D = a.k.layout.head_dim;
  const int64_t t0 = a.t0, t1 = a.t1 < 0 ? a.k.tokens : a.t1;
  const ScoreFn score = pick_scores(a.k.layout);
  const ValueFn values = pick_values(a.v.layout);
  const KvLayout& VL = a.v.layout;
  const ValueCtx vc{&a.v, D, VL.axis == KvAxis::PerToken ? D / (VL.group == 0 ? D : VL.group) : 0};
  static thread_local BlockScratch scratch;
  const int64_t key_tile = (int64_t)D * kKeyTile * a.k.layout.bits / 8, v_row = (int64_t)D * VL.bits / 8;
  for (int rb = 0; rb < a.m; rb += kRB) {
    const int nr = (int)imin_(kRB, a.m - rb);
    ScoreCtx c = make_ctx(scratch, a.k, a.q + rb * a.q_stride, a.q_stride, nr, t1);
    float* mx = a.out_max + rb;
    float* sum = a.out_sum + rb;
    float* acc = a.out_acc + (int64_t)rb * D;
    for (int r = 0; r < nr; ++r) {
      mx[r] = -INFINITY;
      sum[r] = 0.0f;
      for (int d = 0; d < D; ++d) acc[(int64_t)r * D + d] = 0.0f;
    }
    float alpha[kRB];
    for (int64_t tile = t0 / kKeyTile; tile * kKeyTile < t1; ++tile) {
      const int64_t tile0 = tile * kKeyTile;
      const int64_t ta = imax_(t0, tile0), tb = imin_(t1, tile0 + kKeyTile);
      if (tb < t1) {  // the next tile's key codes and value rows
        prefetch_bytes(a.k.codes + (tile + 1) * key_tile, key_tile);
        prefetch_bytes(a.v.codes + tb * v_row, imin_(kKeyTile, t1 - tb) * v_row);
      }
      score(c, tile, scratch.sc);
      softmax_tile(scratch.sc, nr, (int)(ta - tile0), (int)(tb - tile0), nullptr, mx, sum, alpha);
      values(vc, nr, ta, tb, tile0, scratch.sc, acc, alpha);
    }
    if (VL.channel_norm) {
      for (int d = 0; d < D; d += W) {
        const F nv = V::load_f16(a.v.norms + d);
        for (int r = 0; r < nr; ++r) V::store(acc + (int64_t)r * D + d, V::mul(V::load(acc + (int64_t)r * D + d), nv));
      }
    }
  }
}

inline void packed_scores_impl(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1,
                               float* scores, int64_t score_stride) {
  const ScoreFn score = pick_scores(k.layout);
  static thread_local BlockScratch scratch;
  for (int rb = 0; rb < m; rb += kRB) {
    const int nr = (int)imin_(kRB, m - rb);
    ScoreCtx c = make_ctx(scratch, k, q + rb * q_stride, q_stride, nr, t1);
    for (int64_t tile = t0 / kKeyTile; tile * kKeyTile < t1; ++tile) {
      const int64_t tile0 = tile * kKeyTile;
      const int64_t ta = imax_(t0, tile0), tb = imin_(t1, tile0 + kKeyTile);
      score(c, tile, scratch.sc);
      for (int r = 0; r < nr; ++r)
        for (int64_t t = ta; t < tb; ++t)
          scores[(rb + r) * score_stride + (t - t0)] = scratch.sc[r * kKeyTile + (t - tile0)];
    }
  }
}

}  // namespace bp::kern::BP_SIMD_NS
