// KV quantization: packing positions, byte counts, quantize/dequantize accuracy and consistency for every layout,
// incremental quantization, ZipCache's two-class store.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

#include "kernels/common/kv_layout.h"
#include "kernels/common/quant_math.h"
#include "kernels/cpu/kv_quant.h"
#include "tests/kernels/kv_test_util.h"

namespace bp::kern {
namespace {

TEST(KvPacking, CodePositionsFollowTheChunkRule) {
  // 64 4-bit codes = 32 bytes = two full chunks: byte j holds codes j (low nibble) and j + 16 (high nibble).
  EXPECT_EQ(code_pos(0, 64, 4).byte, 0);
  EXPECT_EQ(code_pos(15, 64, 4).byte, 15);
  EXPECT_EQ(code_pos(16, 64, 4).byte, 0);
  EXPECT_EQ(code_pos(16, 64, 4).shift, 4);
  EXPECT_EQ(code_pos(31, 64, 4).byte, 15);
  EXPECT_EQ(code_pos(32, 64, 4).byte, 16);
  EXPECT_EQ(code_pos(32, 64, 4).shift, 0);
  EXPECT_EQ(code_pos(63, 64, 4).byte, 31);
  EXPECT_EQ(code_pos(63, 64, 4).shift, 4);
  // 2-bit: byte j holds codes j, j+16, j+32, j+48.
  EXPECT_EQ(code_pos(17, 64, 2).byte, 1);
  EXPECT_EQ(code_pos(17, 64, 2).shift, 2);
  EXPECT_EQ(code_pos(63, 64, 2).byte, 15);
  EXPECT_EQ(code_pos(63, 64, 2).shift, 6);
  // 8-bit: identity.
  EXPECT_EQ(code_pos(37, 64, 8).byte, 37);
  EXPECT_EQ(code_pos(37, 64, 8).shift, 0);
  // A short last chunk of w bytes uses w in place of 16: 48 4-bit codes = 16 + 8 bytes.
  EXPECT_EQ(code_pos(41, 48, 4).byte, 17);
  EXPECT_EQ(code_pos(41, 48, 4).shift, 4);
  EXPECT_EQ(code_pos(9, 32, 2).byte, 1);  // 32 2-bit codes: one 8-byte chunk
  EXPECT_EQ(code_pos(9, 32, 2).shift, 2);
}

TEST(KvPacking, CodeIndexInvertsCodePosition) {
  for (int bits : {2, 4, 8})
    for (int n : {16, 32, 48, 64, 96, 128, 256}) {
      if (n % (8 / bits)) continue;
      std::vector<int> seen(n, 0);
      for (int64_t b = 0; b < packed_run_bytes(n, bits); ++b)
        for (int s = 0; s < 8 / bits; ++s) {
          const int64_t i = code_index(b, s, n, bits);
          ASSERT_GE(i, 0);
          ASSERT_LT(i, n);
          const CodePos p = code_pos(i, n, bits);
          ASSERT_EQ(p.byte, b);
          ASSERT_EQ(p.shift, s * bits);
          ++seen[i];
        }
      for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1);
    }
}

TEST(KvPacking, SetAndGetRoundTripWithoutDisturbingNeighbours) {
  std::mt19937 rng(3);
  for (int bits : {2, 4, 8})
    for (int n : {16, 32, 48, 64, 128, 96}) {
      if (n % (8 / bits)) continue;
      std::vector<uint8_t> run(packed_run_bytes(n, bits), 0xA5);
      std::vector<int> want(n);
      for (int i = 0; i < n; ++i) {
        want[i] = (int)(rng() % (code_max(bits) + 1));
        set_code(run.data(), i, n, bits, want[i]);
      }
      for (int i = 0; i < n; ++i) ASSERT_EQ(get_code(run.data(), i, n, bits), want[i]) << bits << " " << n << " " << i;
    }
}

KvLayout layout(KvRole role, int D, int bits, KvAxis axis, int group, bool sym = false, bool norm = false) {
  return make_kv_layout(role, D, bits, axis, group, sym, norm);
}

TEST(KvLayoutBytes, ExactCounts) {
  // Keys, D = 64, 4-bit, per-token G = 32, 100 tokens: 2 tiles of 64·64·4/8 B; stats 2 tiles × 2 groups × 64.
  auto b = kv_store_bytes(layout(KvRole::Keys, 64, 4, KvAxis::PerToken, 32), 100);
  EXPECT_EQ(b.codes, 4096u);
  EXPECT_EQ(b.scales, 512u);
  EXPECT_EQ(b.mins, 512u);
  // Values, D = 64, 4-bit, per-token G = head_dim: 32 B codes + one FP16 scale and min per token.
  b = kv_store_bytes(layout(KvRole::Values, 64, 4, KvAxis::PerToken, 0), 100);
  EXPECT_EQ(b.codes, 3200u);
  EXPECT_EQ(b.scales, 200u);
  EXPECT_EQ(b.mins, 200u);
  // KIVI keys: 2-bit per-channel, 32-token groups, 100 tokens -> 4 groups × 64 channels of stats.
  b = kv_store_bytes(layout(KvRole::Keys, 64, 2, KvAxis::PerChannel, 32), 100);
  EXPECT_EQ(b.codes, 2048u);
  EXPECT_EQ(b.scales, 512u);
  EXPECT_EQ(b.mins, 512u);
  // Symmetric: no mins. Per-channel group 0: one stat per channel.
  b = kv_store_bytes(layout(KvRole::Values, 128, 8, KvAxis::PerChannel, 0, true), 10);
  EXPECT_EQ(b.codes, 1280u);
  EXPECT_EQ(b.scales, 256u);
  EXPECT_EQ(b.mins, 0u);
  EXPECT_EQ(kv_store_bytes(layout(KvRole::Values, 64, 2, KvAxis::PerToken, 32), 0).total(), 0u);
}

TEST(KvLayoutBytes, InvalidLayoutsAreRejected) {
  EXPECT_NE(kv_layout_error(layout(KvRole::Keys, 64, 3, KvAxis::PerToken, 0)), nullptr);
  EXPECT_NE(kv_layout_error(layout(KvRole::Keys, 64, 4, KvAxis::PerToken, 48)), nullptr);
  EXPECT_NE(kv_layout_error(layout(KvRole::Keys, 64, 4, KvAxis::PerChannel, 48)), nullptr);
  EXPECT_NE(kv_layout_error(layout(KvRole::Keys, 64, 4, KvAxis::PerToken, 0, false, true)), nullptr);
  EXPECT_NE(kv_layout_error(layout(KvRole::Values, 40, 4, KvAxis::PerToken, 0)), nullptr);
  EXPECT_EQ(kv_layout_error(layout(KvRole::Values, 64, 2, KvAxis::PerChannel, 7)), nullptr);
  EXPECT_THROW(KvStore(layout(KvRole::Keys, 64, 5, KvAxis::PerToken, 0)), std::invalid_argument);
}

// Keys/values with channel outliers (what makes per-channel key quantization worthwhile).
std::vector<float> kv_data(int T, int D, uint32_t seed) {
  auto x = test::randn((size_t)T * D, seed);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; d += 9) x[(size_t)t * D + d] = x[(size_t)t * D + d] * 6.0f + 3.0f;
  return x;
}

struct QuantCase {
  KvRole role;
  int bits;
  KvAxis axis;
  int group;
  bool sym;
};

std::vector<QuantCase> quant_cases() {
  std::vector<QuantCase> c;
  for (KvRole role : {KvRole::Keys, KvRole::Values})
    for (int bits : {2, 4, 8})
      for (bool sym : {false, true}) {
        for (int g : {0, 32, 64}) c.push_back({role, bits, KvAxis::PerToken, g, sym});
        for (int g : {0, 32, 64, 128}) c.push_back({role, bits, KvAxis::PerChannel, g, sym});
        if (role == KvRole::Values) c.push_back({role, bits, KvAxis::PerChannel, 5, sym});
      }
  return c;
}

// Each code is the nearest level to its value unless clamped at an end of the range; the error is at most half a
// step plus the FP16 rounding of the statistics.
TEST(KvQuantize, NearestLevelAndBoundedErrorForEveryLayout) {
  const int T = 150;
  for (int D : {64, 128}) {
    const auto x = kv_data(T, D, 11);
    for (const QuantCase& qc : quant_cases()) {
      const KvLayout L = layout(qc.role, D, qc.bits, qc.axis, qc.group, qc.sym);
      KvStore s(L);
      s.resize(T);
      kv_quantize(s.mut(), x.data(), D, 0, T);
      std::vector<float> y((size_t)T * D);
      kv_dequantize(s.view(), 0, T, y.data(), D);
      std::map<int64_t, float> amax;  // per statistic: max |x| of the elements sharing it
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d) {
          float& a = amax[kv_stat_index(L, t, d)];
          a = std::max(a, std::fabs(x[(size_t)t * D + d]));
        }
      const PackedKv v = s.view();
      double err2 = 0.0, noise2 = 0.0;
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d) {
          const int64_t si = kv_stat_index(L, t, d);
          const float sc = f16_to_f32(v.scales[si]);
          const float mn = qc.sym ? sym_min(sc, qc.bits) : f16_to_f32(v.mins[si]);
          const float xv = x[(size_t)t * D + d], yv = y[(size_t)t * D + d];
          const int code = kv_get_code(v, t, d);
          ASSERT_EQ(yv, dequantize_code(code, sc, mn));
          const float slack = 1e-6f + 2e-3f * amax[si];
          ASSERT_LE(std::fabs(xv - yv), 0.5f * sc + slack)
              << "bits " << qc.bits << " axis " << (int)qc.axis << " G " << qc.group << " sym " << qc.sym;
          if (code > 0) {
            ASSERT_LE(std::fabs(xv - yv), std::fabs(xv - dequantize_code(code - 1, sc, mn)) + slack);
          }
          if (code < code_max(qc.bits)) {
            ASSERT_LE(std::fabs(xv - yv), std::fabs(xv - dequantize_code(code + 1, sc, mn)) + slack);
          }
          err2 += (double)(xv - yv) * (xv - yv);
          noise2 += (double)sc * sc / 12.0;  // rounding to the nearest level: uniform error on [-s/2, s/2]
        }
      // Overall: the mean squared error is at most that of uniform rounding noise (a biased or mis-scaled
      // quantizer exceeds it; coarse 2-bit levels can do much better when values cluster on a level).
      EXPECT_LT(err2, 1.3 * noise2) << "bits " << qc.bits << " axis " << (int)qc.axis << " G " << qc.group;
    }
  }
}

TEST(KvQuantize, ValuesOnTheGridAreExact) {
  // Per-token groups of 32 whose values are min + code·0.125 with both ends present: lossless at 4 bits.
  const int T = 70, D = 64;
  std::mt19937 rng(5);
  std::vector<float> x((size_t)T * D);
  for (int t = 0; t < T; ++t)
    for (int g = 0; g < 2; ++g) {
      const float lo = -1.0f + 0.5f * (float)(rng() % 5);
      for (int d = g * 32; d < g * 32 + 32; ++d) x[(size_t)t * D + d] = lo + 0.125f * (float)(rng() % 16);
      x[(size_t)t * D + g * 32] = lo;
      x[(size_t)t * D + g * 32 + 1] = lo + 0.125f * 15;
    }
  for (KvRole role : {KvRole::Keys, KvRole::Values}) {
    KvStore s(layout(role, D, 4, KvAxis::PerToken, 32));
    s.resize(T);
    kv_quantize(s.mut(), x.data(), D, 0, T);
    std::vector<float> y((size_t)T * D);
    kv_dequantize(s.view(), 0, T, y.data(), D);
    EXPECT_EQ(x, y);
  }
}

std::vector<uint8_t> bytes_of(const KvStore& s) {
  const PackedKv v = s.view();
  const KvStoreBytes b = kv_store_bytes(v.layout, v.tokens);
  std::vector<uint8_t> out(v.codes, v.codes + b.codes);
  const auto* sc = reinterpret_cast<const uint8_t*>(v.scales);
  out.insert(out.end(), sc, sc + b.scales);
  if (v.mins) out.insert(out.end(), reinterpret_cast<const uint8_t*>(v.mins), reinterpret_cast<const uint8_t*>(v.mins) + b.mins);
  return out;
}

TEST(KvQuantize, IncrementalEqualsWholeAndRowIndexGathers) {
  const int T = 160, D = 64;
  const auto x = kv_data(T, D, 21);
  for (const QuantCase& qc : quant_cases()) {
    if (qc.axis == KvAxis::PerChannel && qc.group == 0) continue;  // quantized whole by definition
    const KvLayout L = layout(qc.role, D, qc.bits, qc.axis, qc.group, qc.sym);
    KvStore whole(L), inc(L), gathered(L);
    whole.resize(T);
    kv_quantize(whole.mut(), x.data(), D, 0, T);
    // KIVI-style growth: one group (or one token for per-token layouts) at a time, the store growing with it.
    const int step = qc.axis == KvAxis::PerToken ? 1 : qc.group;
    for (int t = 0; t < T; t += step) {
      const int n = std::min(step, T - t);
      inc.resize(t + n);
      kv_quantize(inc.mut(), x.data() + (size_t)t * D, D, t, n);
    }
    EXPECT_EQ(bytes_of(whole), bytes_of(inc)) << "bits " << qc.bits << " G " << qc.group;
    // Reversed rows through row_index, quantized into a store filled from the reversed copy.
    std::vector<int32_t> idx(T);
    std::vector<float> rev((size_t)T * D);
    for (int t = 0; t < T; ++t) {
      idx[t] = T - 1 - t;
      std::copy_n(x.data() + (size_t)(T - 1 - t) * D, D, rev.data() + (size_t)t * D);
    }
    KvStore direct(L);
    direct.resize(T);
    gathered.resize(T);
    kv_quantize(direct.mut(), rev.data(), D, 0, T);
    kv_quantize(gathered.mut(), x.data(), D, 0, T, idx.data());
    EXPECT_EQ(bytes_of(direct), bytes_of(gathered));
  }
}

// The fast quantizer and dequantizer against the element-by-element definitions, byte for byte, including
// channel-normalized values, gathered rows and sub-ranges.
TEST(KvQuantize, FastPathsEqualTheReferences) {
  const int T = 200;
  for (int D : {64, 128, 48}) {
    const auto x = kv_data(T, D, 77);
    std::vector<int32_t> idx(T);
    for (int t = 0; t < T; ++t) idx[t] = (t * 37) % T;
    std::vector<uint16_t> norms(D);
    kv_channel_norms(x.data(), D, T, D, norms.data());
    for (const QuantCase& qc : quant_cases()) {
      for (bool norm : {false, true}) {
        if (norm && (qc.role != KvRole::Values)) continue;
        const KvLayout L = layout(qc.role, D, qc.bits, qc.axis, qc.group, qc.sym, norm);
        if (kv_layout_error(L)) continue;
        KvStore a(L), b(L);
        a.resize(T);
        b.resize(T);
        const int64_t t0 = qc.axis == KvAxis::PerChannel && qc.group == 0 ? 0 : (qc.axis == KvAxis::PerChannel ? qc.group : 3);
        const int n = (int)(T - t0);
        kv_quantize(a.mut(norms.data()), x.data(), D, t0, n, idx.data());
        kv_quantize_ref(b.mut(norms.data()), x.data(), D, t0, n, idx.data());
        ASSERT_EQ(bytes_of(a), bytes_of(b)) << "D " << D << " bits " << qc.bits << " G " << qc.group << " norm " << norm;
        std::vector<float> ya((size_t)T * D), yb((size_t)T * D);
        kv_dequantize(a.view(norms.data()), t0, n, ya.data(), D);
        kv_dequantize_ref(a.view(norms.data()), t0, n, yb.data(), D);
        ASSERT_EQ(ya, yb);
      }
    }
  }
}

TEST(KvQuantize, RangeChecks) {
  const auto x = kv_data(64, 64, 1);
  KvStore s(layout(KvRole::Keys, 64, 2, KvAxis::PerChannel, 32));
  s.resize(64);
  EXPECT_THROW(kv_quantize(s.mut(), x.data(), 64, 16, 32), std::invalid_argument);  // not on a group boundary
  EXPECT_THROW(kv_quantize(s.mut(), x.data(), 64, 0, 65), std::invalid_argument);   // past the store
  KvStore z(layout(KvRole::Keys, 64, 2, KvAxis::PerChannel, 0));
  z.resize(64);
  EXPECT_THROW(kv_quantize(z.mut(), x.data(), 64, 0, 32), std::invalid_argument);   // group 0 is whole-store
  KvStore n(layout(KvRole::Values, 64, 4, KvAxis::PerToken, 0, false, true));
  n.resize(4);
  EXPECT_THROW(kv_quantize(n.mut(), x.data(), 64, 0, 4), std::invalid_argument);    // norms missing
}

TEST(KvStore, ResizeKeepsContentAndCountsBytes) {
  const auto x = kv_data(100, 64, 4);
  KvStore s(layout(KvRole::Keys, 64, 4, KvAxis::PerToken, 32));
  s.resize(10);
  kv_quantize(s.mut(), x.data(), 64, 0, 10);
  std::vector<float> a(640), b(640);
  kv_dequantize(s.view(), 0, 10, a.data(), 64);
  s.resize(100);
  kv_dequantize(s.view(), 0, 10, b.data(), 64);
  EXPECT_EQ(a, b);
  const KvStoreBytes want = kv_store_bytes(s.layout(), 100);
  EXPECT_GE(s.bytes().codes, want.codes);
  EXPECT_GE(s.bytes().scales, want.scales);
  EXPECT_GE(s.bytes().mins, want.mins);
}

TEST(KvChannelNorms, SqrtOfMaxAbs) {
  const auto x = kv_data(37, 64, 8);
  std::vector<uint16_t> c(64);
  kv_channel_norms(x.data(), 64, 37, 64, c.data());
  for (int d = 0; d < 64; ++d) {
    float mx = 0.0f;
    for (int t = 0; t < 37; ++t) mx = std::max(mx, std::fabs(x[(size_t)t * 64 + d]));
    EXPECT_EQ(c[d], f32_to_f16(std::sqrt(mx)));
  }
}

TEST(MixedKvStore, ClassesHoldTheirTokensAndDequantizeCloseToTheInput) {
  const int T = 201, D = 64;
  const auto k = kv_data(T, D, 31), v = kv_data(T, D, 32);
  std::vector<uint8_t> high(T);
  std::mt19937 rng(2);
  for (auto& h : high) h = (rng() % 10) < 6;
  MixedKvStore zs(D, 4, 2);
  zs.quantize(k.data(), v.data(), D, T, high.data());
  const MixedKv mv = zs.view();
  int64_t nh = 0;
  for (int t = 0; t < T; ++t) {
    EXPECT_EQ(((mv.hi_mask[t / 64] >> (t % 64)) & 1u) != 0, high[t] != 0);
    nh += high[t];
  }
  EXPECT_EQ(mv.k_hi.tokens, nh);
  EXPECT_EQ(mv.k_lo.tokens, T - nh);
  EXPECT_EQ(mv.v_hi.norms, mv.v_lo.norms);
  // Dequantized class rows against the original rows of that class. The value error scales with c_d (the
  // quantizer works on v / c_d): per-token step = range(v/c)/(2^b - 1), times c_d.
  for (bool hi : {true, false}) {
    const PackedKv ks = hi ? mv.k_hi : mv.k_lo, vs = hi ? mv.v_hi : mv.v_lo;
    std::vector<float> kd((size_t)ks.tokens * D), vd((size_t)vs.tokens * D);
    kv_dequantize(ks, 0, (int)ks.tokens, kd.data(), D);
    kv_dequantize(vs, 0, (int)vs.tokens, vd.data(), D);
    int64_t i = 0;
    for (int t = 0; t < T; ++t) {
      if ((high[t] != 0) != hi) continue;
      for (int d = 0; d < D; ++d) {
        const float kstep = f16_to_f32(ks.scales[d]);
        ASSERT_LE(std::fabs(kd[i * D + d] - k[(size_t)t * D + d]), 0.5f * kstep * 1.01f + 1e-3f);
        const float c = f16_to_f32(vs.norms[d]);
        const float vstep = f16_to_f32(vs.scales[i]) * c;
        ASSERT_LE(std::fabs(vd[i * D + d] - v[(size_t)t * D + d]), 0.5f * vstep * 1.01f + 1e-3f * c);
      }
      ++i;
    }
    EXPECT_EQ(i, ks.tokens);
  }
  const MixedKvBytes b = zs.bytes();
  EXPECT_GE(b.stores.codes, kv_store_bytes(mv.k_hi.layout, nh).codes + kv_store_bytes(mv.v_lo.layout, T - nh).codes);
  EXPECT_EQ(b.norms, 128u);
  EXPECT_GE(b.mask, 32u);
}

}  // namespace
}  // namespace bp::kern
