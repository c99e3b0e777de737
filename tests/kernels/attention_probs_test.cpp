// The attention-probability kernels (every ISA level present) against the scalar reference, and the reference
// against a from-the-definition softmax in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/softmax_math.h"
#include "kernels/cpu/attention_probs.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {
namespace {

struct Case {
  std::vector<float> q, k, mx, sm;
  int m, T, D;
  int64_t off;
};

Case make(int m, int T, int D, int64_t off, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Case c{std::vector<float>((size_t)m * D), std::vector<float>((size_t)T * D), std::vector<float>(m),
         std::vector<float>(m), m, T, D, off};
  for (auto& x : c.q) x = nd(rng) * 0.3f;
  for (auto& x : c.k) x = nd(rng);
  // Row statistics from the definition (double), over the keys each row sees.
  for (int i = 0; i < m; ++i) {
    const int64_t last = std::min<int64_t>(T - 1, i + off);
    double mxv = -INFINITY;
    std::vector<double> s(last + 1);
    for (int64_t j = 0; j <= last; ++j) {
      double d = 0;
      for (int x = 0; x < D; ++x) d += (double)c.q[i * D + x] * c.k[j * D + x];
      s[j] = d;
      mxv = std::max(mxv, d);
    }
    double sum = 0;
    for (double v : s) sum += std::exp(v - mxv);
    c.mx[i] = (float)mxv;
    c.sm[i] = (float)sum;
  }
  return c;
}

AttnProbArgs args(const Case& c, float* col, float* probs) {
  AttnProbArgs a;
  a.q = c.q.data();
  a.q_stride = c.D;
  a.m = c.m;
  a.k = c.k.data();
  a.k_stride = c.D;
  a.T = c.T;
  a.head_dim = c.D;
  a.causal_offset = c.off;
  a.row_max = c.mx.data();
  a.row_sum = c.sm.data();
  a.col_sum = col;
  a.probs = probs;
  a.probs_stride = c.T;
  return a;
}

TEST(AttentionProbs, ReferenceRowsSumToOneAndColumnsAddUp) {
  Case c = make(5, 40, 64, 35, 1);
  std::vector<float> col(c.T, 0.0f), probs((size_t)c.m * c.T, 0.0f);
  attention_probs_f32_ref(args(c, col.data(), probs.data()));
  for (int i = 0; i < c.m; ++i) {
    double s = 0;
    for (int j = 0; j < c.T; ++j) {
      s += probs[i * c.T + j];
      if (j > i + c.off) {
        EXPECT_EQ(probs[i * c.T + j], 0.0f) << "masked key " << j << " of row " << i;
      }
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  for (int j = 0; j < c.T; ++j) {
    double s = 0;
    for (int i = 0; i < c.m; ++i) s += probs[i * c.T + j];
    EXPECT_NEAR(col[j], s, 1e-6);
  }
}

TEST(AttentionProbs, SimdMatchesReference) {
  for (auto [m, T, D, off] : std::vector<std::tuple<int, int, int, int64_t>>{
           {1, 1, 64, 0}, {7, 7, 64, 0}, {33, 50, 64, 17}, {64, 64, 128, 0}, {3, 1000, 64, 997}, {20, 35, 16, 15}}) {
    Case c = make(m, T, D, off, (uint32_t)(m * 131 + T));
    std::vector<float> col_ref(T, 0.5f), pr_ref((size_t)m * T, 0.25f);
    attention_probs_f32_ref(args(c, col_ref.data(), pr_ref.data()));
    for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
      if ((int)isa > (int)detected_isa()) continue;
      set_isa_cap(isa);
      std::vector<float> col(T, 0.5f), pr((size_t)m * T, 0.25f);  // the kernels add to what is there
      attention_probs_f32(args(c, col.data(), pr.data()));
      for (int j = 0; j < T; ++j) EXPECT_NEAR(col[j], col_ref[j], 2e-5f) << isa_name(isa) << " m=" << m << " T=" << T;
      for (size_t x = 0; x < pr.size(); ++x) ASSERT_NEAR(pr[x], pr_ref[x], 4e-6f * (1 + pr_ref[x])) << isa_name(isa) << " at " << x;
      std::vector<float> s(T), out_ref(T, 0.0f), out(T, 0.0f);
      for (int j = 0; j < T; ++j) s[j] = c.k[j * D] * 3.0f;
      add_probs_from_scores_ref(s.data(), T, 2.0f, 5.0f, out_ref.data());
      add_probs_from_scores(s.data(), T, 2.0f, 5.0f, out.data());
      for (int j = 0; j < T; ++j) EXPECT_NEAR(out[j], out_ref[j], 1e-6f * (1 + out_ref[j]));
    }
    set_isa_cap(Isa::Avx512);
  }
}

// merge_row_stats (the device observation's final row statistics) gives the statistics of the union of two key
// sets, and prob_from_score with them gives probabilities that sum to 1 over the union.
TEST(SoftmaxMath, MergedRowStatsNormalizeTheUnion) {
  const std::vector<float> a{0.3f, -2.0f, 4.5f, 1.0f}, b{3.0f, 0.1f, -0.7f};
  auto stats = [](const std::vector<float>& s, float& mx, float& sm) {
    mx = -INFINITY;
    for (float x : s) mx = std::max(mx, x);
    sm = 0.0f;
    for (float x : s) sm += std::exp(x - mx);
  };
  float am, as, bm, bs;
  stats(a, am, as);
  stats(b, bm, bs);
  merge_row_stats(am, as, bm, bs);
  double total = 0.0;
  for (float x : a) total += prob_from_score(x, am, 1.0f / as);
  for (float x : b) total += prob_from_score(x, am, 1.0f / as);
  EXPECT_NEAR(total, 1.0, 1e-6);
  EXPECT_EQ(am, 4.5f);
  // An empty side (sum 0) leaves the other unchanged, whichever side it is.
  float em = -INFINITY, es = 0.0f;
  merge_row_stats(em, es, bm, bs);
  EXPECT_EQ(em, bm);
  EXPECT_EQ(es, bs);
  float cm = bm, cs = bs;
  merge_row_stats(cm, cs, 7.0f, 0.0f);
  EXPECT_EQ(cm, bm);
  EXPECT_EQ(cs, bs);
}

}  // namespace
}  // namespace bp::kern
