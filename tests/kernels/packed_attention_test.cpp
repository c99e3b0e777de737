// Packed decode attention: the scalar reference against plain F32 attention over the dequantized cache, then every
// ISA level against the reference over a sweep of layouts, bit widths, shapes and token ranges; ZipCache's mixed
// store against attention over all its tokens; the FP16-cache kernel.
// Tolerance: partial states are compared through log-sum-exp and the normalized output (kv_test_util.h) with a
// relative tolerance of 1e-4 (vector code sums scores in another order and folds scales into the queries: about
// 1e-6 relative per score, far below it; a wrong code, scale or token moves results by >1e-2).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/kv_quant.h"
#include "kernels/cpu/packed_attention.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

using test::Partial;
using test::same_partial;

constexpr float kTol = 1e-4f;

KvLayout layout(KvRole role, int D, int bits, KvAxis axis, int group, bool sym = false, bool norm = false) {
  return make_kv_layout(role, D, bits, axis, group, sym, norm);
}

std::vector<float> kv_data(int T, int D, uint32_t seed) {
  auto x = test::randn((size_t)T * D, seed);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; d += 9) x[(size_t)t * D + d] = x[(size_t)t * D + d] * 6.0f + 3.0f;
  return x;
}

struct Stores {
  KvStore k, v;
  std::vector<uint16_t> norms;
  PackedAttnArgs args(const float* q, int m, int64_t t0, int64_t t1, Partial& out) const {
    PackedAttnArgs a;
    a.q = q;
    a.q_stride = k.layout().head_dim;
    a.m = m;
    a.k = k.view();
    a.v = v.view(norms.empty() ? nullptr : norms.data());
    a.t0 = t0;
    a.t1 = t1;
    a.out_max = out.max.data();
    a.out_sum = out.sum.data();
    a.out_acc = out.acc.data();
    return a;
  }
};

Stores make_stores(const KvLayout& kl, const KvLayout& vl, int T, uint32_t seed) {
  Stores s{KvStore(kl), KvStore(vl), {}};
  const int D = kl.head_dim;
  const auto k = kv_data(T, D, seed), v = kv_data(T, D, seed + 1);
  s.k.resize(T);
  s.v.resize(T);
  kv_quantize(s.k.mut(), k.data(), D, 0, T);
  if (vl.channel_norm) {
    s.norms.resize(D);
    kv_channel_norms(v.data(), D, T, D, s.norms.data());
  }
  kv_quantize(s.v.mut(s.norms.empty() ? nullptr : s.norms.data()), v.data(), D, 0, T);
  return s;
}

std::vector<float> queries(int m, int D, uint32_t seed) { return test::randn((size_t)m * D, seed, 0.15f); }

// The reference is attention over the dequantized cache.
TEST(PackedAttnRef, EqualsF32AttentionOverTheDequantizedCache) {
  const int D = 64, T = 150, m = 6;
  for (bool norm : {false, true}) {
    const Stores s = make_stores(layout(KvRole::Keys, D, 4, KvAxis::PerChannel, 32),
                                 layout(KvRole::Values, D, 2, KvAxis::PerToken, 32, false, norm), T, 3);
    const auto q = queries(m, D, 4);
    for (auto [t0, t1] : {std::pair<int, int>{0, T}, {17, 101}}) {
      Partial ref(m, D), f32(m, D);
      packed_attention_ref(s.args(q.data(), m, t0, t1, ref));
      std::vector<float> kd((size_t)T * D), vd((size_t)T * D);
      kv_dequantize(s.k.view(), 0, T, kd.data(), D);
      kv_dequantize(s.v.view(s.norms.empty() ? nullptr : s.norms.data()), 0, T, vd.data(), D);
      AttnF32Args a;
      a.q = q.data();
      a.q_stride = D;
      a.m = m;
      a.k = kd.data() + (size_t)t0 * D;
      a.v = vd.data() + (size_t)t0 * D;
      a.kv_stride = D;
      a.T = t1 - t0;
      a.head_dim = D;
      a.causal_offset = T;  // no mask
      a.out_max = f32.max.data();
      a.out_sum = f32.sum.data();
      a.out_acc = f32.acc.data();
      attention_partial_f32_ref(a);
      EXPECT_TRUE(same_partial(ref, f32, m, D, kTol)) << "norm " << norm << " range " << t0 << ".." << t1;
    }
  }
}

struct LayoutChoice {
  KvAxis axis;
  int group;
  bool sym;
};

void check_all_isa(const Stores& s, int m, int64_t t0, int64_t t1, uint32_t seed, const std::string& what) {
  const int D = s.k.layout().head_dim;
  const auto q = queries(m, D, seed);
  Partial ref(m, D);
  packed_attention_ref(s.args(q.data(), m, t0, t1, ref));
  const int64_t n = t1 - t0;
  std::vector<float> sref((size_t)m * n), sgot((size_t)m * n);
  packed_scores_ref(q.data(), D, m, s.k.view(), t0, t1, sref.data(), n);
  test::for_each_isa([&](Isa isa) {
    Partial got(m, D);
    packed_attention(s.args(q.data(), m, t0, t1, got));
    EXPECT_TRUE(same_partial(got, ref, m, D, kTol)) << isa_name(isa) << " " << what;
    std::fill(sgot.begin(), sgot.end(), NAN);
    packed_scores(q.data(), D, m, s.k.view(), t0, t1, sgot.data(), n);
    for (size_t i = 0; i < sref.size(); ++i)
      ASSERT_NEAR(sgot[i], sref[i], kTol * (1.0f + std::fabs(sref[i]))) << isa_name(isa) << " " << what << " i " << i;
  });
}

TEST(PackedAttnParity, EveryLayoutAndBitWidth) {
  const std::vector<LayoutChoice> keys = {{KvAxis::PerToken, 0, false},   {KvAxis::PerToken, 32, false},
                                          {KvAxis::PerToken, 16, true},   {KvAxis::PerChannel, 0, false},
                                          {KvAxis::PerChannel, 32, false}, {KvAxis::PerChannel, 64, true},
                                          {KvAxis::PerChannel, 96, false}, {KvAxis::PerChannel, 32, true}};
  const std::vector<LayoutChoice> values = {{KvAxis::PerToken, 0, false},  {KvAxis::PerToken, 32, false},
                                            {KvAxis::PerToken, 16, true},  {KvAxis::PerChannel, 0, false},
                                            {KvAxis::PerChannel, 5, false}, {KvAxis::PerChannel, 32, true}};
  int c = 0;
  for (int D : {64, 128})
    for (int kb : {2, 4, 8})
      for (int vb : {2, 4, 8})
        for (size_t i = 0; i < keys.size(); ++i) {
          const LayoutChoice& K = keys[i];
          const LayoutChoice& Vc = values[(i + kb + vb) % values.size()];
          const bool norm = (c % 3) == 0 && Vc.axis == KvAxis::PerToken;
          const int T = 130 + (c % 4) * 31;
          const Stores s = make_stores(layout(KvRole::Keys, D, kb, K.axis, K.group, K.sym),
                                       layout(KvRole::Values, D, vb, Vc.axis, Vc.group, Vc.sym, norm), T, 100 + c);
          std::ostringstream os;
          os << "D " << D << " kbits " << kb << " kaxis " << (int)K.axis << " kG " << K.group << " vbits " << vb
             << " vaxis " << (int)Vc.axis << " vG " << Vc.group << " T " << T;
          const std::string what = os.str();
          check_all_isa(s, 3 + (c % 3) * 2, 0, T, 7 + c, what);
          check_all_isa(s, 3, 29, T - 3, 8 + c, what + " sub-range");
          ++c;
        }
}

TEST(PackedAttnParity, ShapesAndRanges) {
  for (int D : {64, 128})
    for (int T : {1, 63, 64, 65, 1000})
      for (int m : {1, 3, 16, 19}) {
        const Stores s = make_stores(layout(KvRole::Keys, D, 2, KvAxis::PerChannel, 32),
                                     layout(KvRole::Values, D, 4, KvAxis::PerToken, 32), T, (uint32_t)(T + m + D));
        std::ostringstream os;
        os << "D " << D << " T " << T << " m " << m;
        const std::string what = os.str();
        check_all_isa(s, m, 0, T, 1, what);
        if (T > 70) check_all_isa(s, m, 64, T - 1, 2, what + " [64, T-1)");
        if (T > 3) check_all_isa(s, m, 1, 3, 3, what + " [1, 3)");
      }
}

TEST(PackedAttnParity, EmptyRangeIsTheEmptyState) {
  const Stores s = make_stores(layout(KvRole::Keys, 64, 4, KvAxis::PerToken, 0),
                               layout(KvRole::Values, 64, 4, KvAxis::PerToken, 0), 10, 1);
  const auto q = queries(3, 64, 1);
  test::for_each_isa([&](Isa isa) {
    Partial got(3, 64);
    packed_attention(s.args(q.data(), 3, 5, 5, got));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(got.max[i], -INFINITY);
      EXPECT_EQ(got.sum[i], 0.0f);
    }
    for (float x : got.acc) EXPECT_EQ(x, 0.0f);
  });
}

TEST(MixedAttention, EqualsAttentionOverAllTokens) {
  const int D = 64, m = 5;
  for (int T : {1, 100, 333}) {
    const auto k = kv_data(T, D, 41), v = kv_data(T, D, 42);
    std::vector<uint8_t> high(T);
    for (int t = 0; t < T; ++t) high[t] = (t * 7 % 10) < 6;
    MixedKvStore zs(D, 4, 2);
    zs.quantize(k.data(), v.data(), D, T, high.data());
    const MixedKv mv = zs.view();
    // Dequantized tokens back in original order, then plain F32 attention over them.
    std::vector<float> kd((size_t)T * D), vd((size_t)T * D), kh((size_t)T * D), vh((size_t)T * D), kl((size_t)T * D),
        vl((size_t)T * D);
    kv_dequantize(mv.k_hi, 0, (int)mv.k_hi.tokens, kh.data(), D);
    kv_dequantize(mv.v_hi, 0, (int)mv.v_hi.tokens, vh.data(), D);
    kv_dequantize(mv.k_lo, 0, (int)mv.k_lo.tokens, kl.data(), D);
    kv_dequantize(mv.v_lo, 0, (int)mv.v_lo.tokens, vl.data(), D);
    for (int t = 0, ih = 0, il = 0; t < T; ++t) {
      const bool h = high[t];
      const int r = h ? ih++ : il++;
      std::copy_n((h ? kh : kl).data() + (size_t)r * D, D, kd.data() + (size_t)t * D);
      std::copy_n((h ? vh : vl).data() + (size_t)r * D, D, vd.data() + (size_t)t * D);
    }
    const auto q = queries(m, D, 43);
    Partial f32(m, D), ref(m, D);
    AttnF32Args a;
    a.q = q.data();
    a.q_stride = D;
    a.m = m;
    a.k = kd.data();
    a.v = vd.data();
    a.kv_stride = D;
    a.T = T;
    a.head_dim = D;
    a.causal_offset = T;
    a.out_max = f32.max.data();
    a.out_sum = f32.sum.data();
    a.out_acc = f32.acc.data();
    attention_partial_f32_ref(a);
    mixed_attention_ref(q.data(), D, m, mv, ref.max.data(), ref.sum.data(), ref.acc.data());
    EXPECT_TRUE(same_partial(ref, f32, m, D, kTol)) << "T " << T;
    std::vector<float> sc((size_t)m * T);
    test::for_each_isa([&](Isa isa) {
      Partial got(m, D);
      mixed_attention(q.data(), D, m, mv, got.max.data(), got.sum.data(), got.acc.data());
      EXPECT_TRUE(same_partial(got, f32, m, D, kTol)) << isa_name(isa) << " T " << T;
      mixed_scores(q.data(), D, m, mv, sc.data(), T);
      for (int i = 0; i < m; ++i)
        for (int t = 0; t < T; ++t) {
          float dot = 0.0f;
          for (int d = 0; d < D; ++d) dot += q[(size_t)i * D + d] * kd[(size_t)t * D + d];
          ASSERT_NEAR(sc[(size_t)i * T + t], dot, kTol * (1.0f + std::fabs(dot))) << isa_name(isa);
        }
    });
  }
}

TEST(AttnF16, EveryIsaMatchesTheReferenceAndF32OnRoundedData) {
  for (int D : {64, 128})
    for (int T : {1, 50, 64, 300})
      for (int m : {1, 3, 18}) {
        const auto kf = kv_data(T, D, 5), vf = kv_data(T, D, 6);
        std::vector<uint16_t> kh((size_t)T * D), vh((size_t)T * D);
        std::vector<float> kr((size_t)T * D), vr((size_t)T * D);
        for (size_t i = 0; i < kf.size(); ++i) {
          kh[i] = f32_to_f16(kf[i]);
          vh[i] = f32_to_f16(vf[i]);
          kr[i] = f16_to_f32(kh[i]);
          vr[i] = f16_to_f32(vh[i]);
        }
        const auto q = queries(m, D, 9);
        Partial ref(m, D), f32(m, D);
        AttnF16Args a;
        a.q = q.data();
        a.q_stride = D;
        a.m = m;
        a.k = kh.data();
        a.v = vh.data();
        a.kv_stride = D;
        a.T = T;
        a.head_dim = D;
        a.out_max = ref.max.data();
        a.out_sum = ref.sum.data();
        a.out_acc = ref.acc.data();
        attention_partial_f16_ref(a);
        AttnF32Args b;
        b.q = q.data();
        b.q_stride = D;
        b.m = m;
        b.k = kr.data();
        b.v = vr.data();
        b.kv_stride = D;
        b.T = T;
        b.head_dim = D;
        b.causal_offset = T;
        b.out_max = f32.max.data();
        b.out_sum = f32.sum.data();
        b.out_acc = f32.acc.data();
        attention_partial_f32_ref(b);
        EXPECT_TRUE(same_partial(ref, f32, m, D, kTol));
        test::for_each_isa([&](Isa isa) {
          Partial got(m, D);
          a.out_max = got.max.data();
          a.out_sum = got.sum.data();
          a.out_acc = got.acc.data();
          attention_partial_f16(a);
          EXPECT_TRUE(same_partial(got, ref, m, D, kTol)) << isa_name(isa) << " D " << D << " T " << T << " m " << m;
        });
      }
}

}  // namespace
}  // namespace bp::kern
