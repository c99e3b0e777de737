// w-rtn against its definition: every code is round-to-nearest of the weight on its group's grid (asymmetric:
// min/max of the group with FP16-rounded min and scale; symmetric: absmax / (2^(b-1) - 1)), computed here in
// double from the formulas, with a negative control (truncation instead of rounding must disagree). On the real
// model: the bytes held, the output kept dense by default, and what the method does to SmolLM2's Q4_1 weights
// (4-bit groups of 32 reproduce them; 2 bits do not).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "harness/core/registry.h"
#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/model.h"
#include "kernels/common/fp16.h"
#include "kernels/cpu/wq_gemm.h"
#include "tests/common/test_env.h"

namespace bp {
namespace {

using kern::WqFormat;
using kern::WqMatrix;

// The code of w in its group by the definition; `round` false truncates instead (the negative control).
int definition_code(const float* group, int len, float w, int bits, bool symmetric, bool round = true) {
  double lo = group[0], hi = group[0], amax = 0;
  for (int k = 0; k < len; ++k) lo = std::min(lo, (double)group[k]), hi = std::max(hi, (double)group[k]),
                                amax = std::max(amax, std::fabs((double)group[k]));
  auto f16 = [](double v) { return (double)kern::f16_to_f32(kern::f32_to_f16((float)v)); };
  auto rnd = [&](double v) { return round ? std::nearbyint(v) : std::trunc(v); };
  if (symmetric) {
    const int half = 1 << (bits - 1);
    const double s = f16(amax / (half - 1));
    return (int)std::clamp(s > 0 ? rnd(w / s) : 0.0, (double)-(half - 1), (double)(half - 1)) + half;
  }
  const double m = f16(lo), s = f16((hi - m) / ((1 << bits) - 1));
  return (int)std::clamp(s > 0 ? rnd((w - m) / s) : 0.0, 0.0, (double)((1 << bits) - 1));
}

// Fraction of codes differing from the definition; differences allowed only at rounding ties (float vs double).
double mismatch(const std::vector<float>& w, int N, int K, WqFormat f, bool round) {
  WqMatrix q(w.data(), N, K, f);
  const int G = q.group_size();
  size_t bad = 0;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      const int g = k / G;
      const float* grp = w.data() + (size_t)n * K + (size_t)g * G;
      bad += q.code(n, k) != definition_code(grp, q.group_len(g), w[(size_t)n * K + k], f.bits, f.symmetric, round);
    }
  return (double)bad / ((double)N * K);
}

TEST(WRtn, CodesAreRoundToNearestOnEachGroupsGrid) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 0.02f);
  const int N = 24, K = 576;
  std::vector<float> w((size_t)N * K);
  for (auto& x : w) x = d(rng);
  for (WqFormat f : {WqFormat{4, 64, false}, WqFormat{3, 128, false}, WqFormat{2, 32, true}, WqFormat{8, 0, true},
                     WqFormat{4, 0, false}}) {
    EXPECT_LE(mismatch(w, N, K, f, true), 1e-4) << f.bits << " g" << f.group;
    // Negative control: truncating instead of rounding is caught.
    EXPECT_GT(mismatch(w, N, K, f, false), 0.2) << f.bits << " g" << f.group;
  }
}

TEST(WRtn, RegistrationFillsTheWeightsRoleAndStacksWithCaches) {
  const MethodInfo* m = MethodRegistry::find("w-rtn");
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->fills(Role::Weights));
  const MethodInfo* kivi = MethodRegistry::find("kivi");
  ASSERT_NE(kivi, nullptr);
  EXPECT_EQ(m->refuses(*kivi), "");
  EXPECT_EQ(kivi->refuses(*m), "");
}

std::vector<float> logits_of(rt::Model& m, const std::vector<int32_t>& tokens) {
  rt::Session s(m, std::make_unique<rt::DenseKvCache>(m.kv_geometry(2), rt::DenseKvType::F32), 2);
  const float* l = s.prefill(tokens, rt::Logits::All);
  return std::vector<float>(l, l + tokens.size() * (size_t)m.config().vocab_size);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
  return worst;
}

TEST(WRtn, OnTheDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const MethodInfo* mi = MethodRegistry::find("w-rtn");
  ASSERT_NE(mi, nullptr);
  auto dense = rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F32, 2});
  const std::vector<int32_t> tokens =
      dense->tokenizer().encode("The capital of France is Paris, and the capital of Italy is Rome.", true, false);
  const std::vector<float> ref = logits_of(*dense, tokens);
  const rt::ModelConfig& c = dense->config();
  const size_t layer_weights = (size_t)c.n_layers * ((size_t)2 * c.d_model * c.q_dim() + (size_t)2 * c.d_model * c.kv_dim() +
                                                     (size_t)3 * c.d_model * c.d_ff);
  auto apply = [&](const json& params) {
    auto m = rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F32, 2});
    MethodContext mc;
    Params p(mi->schema.canonicalize(params, "test", ""));
    m->apply_weight_transform(*mi->make_weight_transform(mc, p), {}, 2);
    return m;
  };
  // 4 bits in groups of 64, asymmetric: 0.5 B per weight + FP16 scale and minimum per 64 weights, in every layer
  // site; the output projection stays dense (F32).
  auto q4 = apply({{"bits", 4}, {"group", 64}});
  EXPECT_EQ(q4->linear({3, rt::LinearKind::Up}).format(), "int4-g64-asym");
  EXPECT_EQ(q4->linear({-1, rt::LinearKind::Output}).format(), "f32");
  EXPECT_EQ(dense->weight_bytes() - q4->weight_bytes(), layer_weights * 4 - (layer_weights / 2 + layer_weights / 64 * 4));
  // SmolLM2's file is Q4_1: 32-weight asymmetric blocks with FP16 scale and minimum, each spanning its min and max.
  // RTN at 4 bits in groups of 32 lands on the same grid: the logits barely move. At 2 bits they do.
  auto q4g32 = apply({{"bits", 4}, {"group", 32}});
  const double d4 = max_abs_diff(logits_of(*q4g32, tokens), ref);
  auto q2 = apply({{"bits", 2}, {"group", 64}});
  const double d2 = max_abs_diff(logits_of(*q2, tokens), ref);
  std::printf("max |logit diff| vs the file's weights: int4-g32 %.4g, int2-g64 %.4g\n", d4, d2);
  EXPECT_LT(d4, 0.05);
  EXPECT_GT(d2, 1.0);
}

}  // namespace
}  // namespace bp
