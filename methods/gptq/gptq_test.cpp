// gptq against a slow reference written from the paper's equations: the unbatched algorithm (every error applied
// to every later column at once, Hinv recomputed by Gaussian elimination and re-factored column by column, no
// lazy batch, no Cholesky shortcut) must choose the same codes and grids as the solver on small layers; the
// solver's result must not depend on its lazy-batch width; its layer-output error on the calibration inputs must
// be below round-to-nearest's (the point of the method) — and the negative control (the error fed back with the
// wrong sign) must lose that.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/model.h"
#include "tests/common/test_env.h"
#include "kernels/cpu/wq_gemm.h"
#include "methods/gptq/gptq_solver.h"

namespace bp::methods::gptq {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Correlated inputs with a few outlier channels, as activations have (so the Hessian is far from diagonal).
std::vector<float> inputs(int n, int K, uint32_t seed) {
  auto z = randn((size_t)n * K, seed);
  std::vector<float> x((size_t)n * K);
  for (int r = 0; r < n; ++r)
    for (int k = 0; k < K; ++k) {
      float v = z[(size_t)r * K + k] + 0.7f * z[(size_t)r * K + (k + 1) % K];
      if (k % 7 == 3) v *= 4.0f;
      x[(size_t)r * K + k] = v;
    }
  return x;
}

// The paper's Algorithm 1 without lazy batching, in plain double: H⁻¹ by Gauss-Jordan, then at step i the
// Cholesky row of the remaining inverse (H⁻¹)_{F} is [H⁻¹_F]_{ii}^{-1/2} · [H⁻¹_F]_{i,:}, and the inverse is
// updated by the Gaussian elimination of row/column i (the paper's eq. 3). `sign` -1 is the negative control.
Result reference(const float* w_in, int N, int K, const std::vector<double>& h_in, const kern::WqFormat& f,
                 double damp, double sign = 1.0) {
  const int G = f.group == 0 ? K : f.group, groups = (K + G - 1) / G;
  std::vector<double> h = h_in, w(w_in, w_in + (size_t)N * K);
  for (int i = 0; i < K; ++i)
    if (h[(size_t)i * K + i] == 0) {
      h[(size_t)i * K + i] = 1;
      for (int n = 0; n < N; ++n) w[(size_t)n * K + i] = 0;
    }
  double mean = 0;
  for (int i = 0; i < K; ++i) mean += h[(size_t)i * K + i];
  for (int i = 0; i < K; ++i) h[(size_t)i * K + i] += damp * mean / K;
  // Gauss-Jordan inverse.
  std::vector<double> a = h, inv((size_t)K * K, 0.0);
  for (int i = 0; i < K; ++i) inv[(size_t)i * K + i] = 1;
  for (int c = 0; c < K; ++c) {
    const double p = a[(size_t)c * K + c];
    for (int j = 0; j < K; ++j) a[(size_t)c * K + j] /= p, inv[(size_t)c * K + j] /= p;
    for (int r = 0; r < K; ++r)
      if (r != c) {
        const double fct = a[(size_t)r * K + c];
        for (int j = 0; j < K; ++j) a[(size_t)r * K + j] -= fct * a[(size_t)c * K + j], inv[(size_t)r * K + j] -= fct * inv[(size_t)c * K + j];
      }
  }
  Result r;
  r.codes.assign((size_t)N * K, 0);
  r.grids.assign((size_t)N * groups, {});
  std::vector<float> tmp(G);
  for (int i = 0; i < K; ++i) {
    if (i % G == 0)
      for (int n = 0; n < N; ++n) {
        const int len = std::min(G, K - i);
        for (int k = 0; k < len; ++k) tmp[k] = (float)w[(size_t)n * K + i + k];
        r.grids[(size_t)n * groups + i / G] = kern::WqGrid::fit(tmp.data(), len, f);
      }
    const double d = inv[(size_t)i * K + i];
    for (int n = 0; n < N; ++n) {
      const kern::WqGrid& g = r.grids[(size_t)n * groups + i / G];
      const int q = g.code((float)w[(size_t)n * K + i], f);
      r.codes[(size_t)n * K + i] = (uint8_t)q;
      const double e = (w[(size_t)n * K + i] - (double)g.value(q)) / d;  // eq. 2: δ = −(w−q)/[H⁻¹]_qq · H⁻¹_{:,q}
      for (int j = i + 1; j < K; ++j) w[(size_t)n * K + j] -= sign * e * inv[(size_t)i * K + j];
    }
    // Remove column i from the inverse (eq. 3): H⁻¹ ← H⁻¹ − H⁻¹_{:,i} H⁻¹_{i,:} / [H⁻¹]_ii.
    std::vector<double> row(inv.begin() + (size_t)i * K, inv.begin() + (size_t)(i + 1) * K);
    for (int a2 = i + 1; a2 < K; ++a2)
      for (int b = i + 1; b < K; ++b) inv[(size_t)a2 * K + b] -= inv[(size_t)a2 * K + i] * row[b] / d;
  }
  return r;
}

// ‖(W − Q) Xᵀ‖² on the calibration rows: what GPTQ minimizes.
double output_error(const float* w, int N, int K, const Result& r, const kern::WqFormat& f, const std::vector<float>& x,
                    int n_rows) {
  kern::WqMatrix m(N, K, f, r.codes, r.grids);
  std::vector<float> row(K);
  double sum = 0;
  for (int n = 0; n < N; ++n) {
    m.dequantize_row(n, row.data());
    for (int t = 0; t < n_rows; ++t) {
      double e = 0;
      for (int k = 0; k < K; ++k) e += ((double)w[(size_t)n * K + k] - row[k]) * x[(size_t)t * K + k];
      sum += e * e;
    }
  }
  return sum;
}

Result rtn(const float* w, int N, int K, const kern::WqFormat& f) {
  const int G = f.group == 0 ? K : f.group, groups = (K + G - 1) / G;
  Result r;
  r.codes.resize((size_t)N * K);
  r.grids.resize((size_t)N * groups);
  for (int n = 0; n < N; ++n)
    for (int g = 0; g < groups; ++g) {
      const int len = std::min(G, K - g * G);
      const float* src = w + (size_t)n * K + (size_t)g * G;
      r.grids[(size_t)n * groups + g] = kern::WqGrid::fit(src, len, f);
      for (int k = 0; k < len; ++k) r.codes[(size_t)n * K + g * G + k] = (uint8_t)r.grids[(size_t)n * groups + g].code(src[k], f);
    }
  return r;
}

size_t differing(const Result& a, const Result& b) {
  size_t d = 0;
  for (size_t i = 0; i < a.codes.size(); ++i) d += a.codes[i] != b.codes[i];
  return d;
}

struct Case {
  int N, K, bits, group;
  bool symmetric;
};

class GptqVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(GptqVsReference, SameCodesAsThePapersAlgorithmAndBelowRtnError) {
  const Case c = GetParam();
  const int n_rows = 256;
  auto w = randn((size_t)c.N * c.K, 1, 0.05f);
  auto x = inputs(n_rows, c.K, 2);
  const kern::WqFormat f{c.bits, c.group, c.symmetric};
  const std::vector<double> h = hessian_of(x.data(), n_rows, c.K, 2);
  Options o;
  o.format = f;
  o.block = 16;
  const Result fast = quantize(w.data(), c.N, c.K, h, o);
  const Result ref = reference(w.data(), c.N, c.K, h, f, o.damp);
  // Exactly the same codes (and the lazy batch changes none).
  EXPECT_EQ(differing(fast, ref), 0u);
  std::printf("codes differing from the reference: %zu of %d\n", differing(fast, ref), c.N * c.K);
  o.block = 1;
  EXPECT_EQ(differing(quantize(w.data(), c.N, c.K, h, o), fast), 0u) << "lazy batch changed codes";

  const double e_gptq = output_error(w.data(), c.N, c.K, fast, f, x, n_rows);
  const double e_rtn = output_error(w.data(), c.N, c.K, rtn(w.data(), c.N, c.K, f), f, x, n_rows);
  EXPECT_LT(e_gptq, 0.9 * e_rtn);
  // Negative control: the error pushed the wrong way makes things worse than plain rounding.
  const Result wrong = reference(w.data(), c.N, c.K, h, f, o.damp, -1.0);
  EXPECT_GT(differing(wrong, ref), (size_t)c.N * c.K / 20);
  EXPECT_GT(output_error(w.data(), c.N, c.K, wrong, f, x, n_rows), e_rtn);
  std::printf("N %d K %d %d-bit g%d: output error gptq/rtn = %.3f\n", c.N, c.K, c.bits, c.group, e_gptq / e_rtn);
}

INSTANTIATE_TEST_SUITE_P(Layers, GptqVsReference,
                         ::testing::Values(Case{24, 64, 4, 32, false}, Case{16, 96, 3, 0, false},
                                           Case{20, 128, 4, 64, true}, Case{8, 80, 2, 32, false}));

TEST(Gptq, ActOrderKeepsCodesInTheOriginalColumnOrder) {
  const int N = 12, K = 48, n_rows = 128;
  auto w = randn((size_t)N * K, 5, 0.05f);
  auto x = inputs(n_rows, K, 6);
  const std::vector<double> h = hessian_of(x.data(), n_rows, K, 1);
  Options o;
  o.format = {4, 0, false};
  o.act_order = true;
  const Result r = quantize(w.data(), N, K, h, o);
  const kern::WqFormat f = o.format;
  EXPECT_LT(output_error(w.data(), N, K, r, f, x, n_rows), output_error(w.data(), N, K, rtn(w.data(), N, K, f), f, x, n_rows));
  o.format.group = 32;
  EXPECT_THROW(quantize(w.data(), N, K, h, o), std::invalid_argument);
}

TEST(Gptq, DeadInputsAreZeroedAndTheRegistrationRejectsActOrderWithGroups) {
  const int N = 4, K = 32, n_rows = 64;
  auto w = randn((size_t)N * K, 7, 0.05f);
  auto x = inputs(n_rows, K, 8);
  for (int t = 0; t < n_rows; ++t) x[(size_t)t * K + 5] = 0;  // input 5 never active
  Options o;
  o.format = {4, 0, true};
  const Result r = quantize(w.data(), N, K, hessian_of(x.data(), n_rows, K, 1), o);
  kern::WqMatrix m(N, K, o.format, r.codes, r.grids);
  std::vector<float> row(K);
  for (int n = 0; n < N; ++n) {
    m.dequantize_row(n, row.data());
    EXPECT_EQ(row[5], 0.0f);
  }
  const MethodInfo* mi = MethodRegistry::find("gptq");
  ASSERT_NE(mi, nullptr);
  Params p(mi->schema.canonicalize({{"act_order", true}}, "s.json", "/methods/0/params"));
  try {
    mi->validate(p, "s.json", "/methods/0");
    FAIL() << "act_order with groups accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/methods/0/params/act_order");
  }
}

// End to end on the default model (2,048 calibration tokens, to stay quick): the same storage and bytes as w-rtn's
// at the same format, and different codes (the error feedback changed them).
TEST(Gptq, OnTheDefaultModelItIsStoredAsWRtnWithOtherCodes) {
  BENCH_REQUIRE_MODEL(path);
  auto load = [&] { return rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F32, 2}); };
  auto calib_model = load();
  const std::vector<int32_t> tokens = calib_model->tokenizer().encode(
      "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in "
      "Paris. Its base is square.",
      true, false);
  std::vector<int32_t> calib;
  while (calib.size() < 2048) calib.insert(calib.end(), tokens.begin(), tokens.end());
  calib.resize(2048);
  auto apply = [&](const char* method, const json& params) {
    const MethodInfo* mi = MethodRegistry::find(method);
    auto m = load();
    MethodContext mc;
    m->apply_weight_transform(*mi->make_weight_transform(mc, Params(mi->schema.canonicalize(params, "t", ""))),
                              calib, 2);
    return m;
  };
  auto g = apply("gptq", {{"bits", 4}, {"group", 64}, {"calib_tokens", 2048}});
  auto r = apply("w-rtn", {{"bits", 4}, {"group", 64}});
  EXPECT_EQ(g->weight_bytes(), r->weight_bytes());
  EXPECT_EQ(g->linear({3, rt::LinearKind::Down}).format(), "int4-g64-asym");
  EXPECT_EQ(g->linear({-1, rt::LinearKind::Output}).format(), "f32");
  const rt::LinearOp& a = g->linear({5, rt::LinearKind::Q});
  const rt::LinearOp& b = r->linear({5, rt::LinearKind::Q});
  std::vector<float> x(a.in_features(), 0.0f), ya(a.out_features()), yb(b.out_features());
  for (int i = 0; i < a.in_features(); ++i) x[i] = std::sin(0.37f * (float)i);
  a.forward(x.data(), 1, ya.data(), 1);
  b.forward(x.data(), 1, yb.data(), 1);
  EXPECT_NE(ya, yb);
}

}  // namespace
}  // namespace bp::methods::gptq
