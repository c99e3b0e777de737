// The runtime's plug points other than the KV methods' storage: token selection for sparse prefill (TokenSelector /
// AttnBatch::selection) and weight replacement with calibration (WeightTransform). Each is checked against a
// reference written from its definition.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/dense_linear.h"
#include "tests/common/kv/test_support.h"
#include "harness/runtime/model.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

using kv::testing::random_batch;
using kv::testing::tiny_model;

// Softmax attention in double of query row i (rotated at pos[i], scaled) over the rotated keys `keys` (indices into
// the batch), for every query head.
std::vector<double> reference_row(const KvGeometry& g, const kv::testing::Batch& b, int i,
                                  const std::vector<int>& keys) {
  const int Hq = g.n_q_heads, Hkv = g.n_kv_heads, D = g.head_dim, G = g.group();
  std::vector<double> out((size_t)Hq * D, 0.0);
  std::vector<float> q(b.q.begin() + (size_t)i * Hq * D, b.q.begin() + (size_t)(i + 1) * Hq * D);
  g.rope->rotate(q.data(), Hq, b.pos[i]);
  for (int h = 0; h < Hq; ++h) {
    const int kvh = h / G;
    std::vector<double> s;
    for (int j : keys) {
      std::vector<float> k(b.k.begin() + ((size_t)j * Hkv + kvh) * D, b.k.begin() + ((size_t)j * Hkv + kvh + 1) * D);
      g.rope->rotate(k.data(), 1, b.pos[j]);
      double dot = 0;
      for (int d = 0; d < D; ++d) dot += (double)q[(size_t)h * D + d] * k[d];
      s.push_back(dot / std::sqrt((double)D));
    }
    if (s.empty()) continue;
    const double mx = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (size_t t = 0; t < keys.size(); ++t)
      for (int d = 0; d < D; ++d)
        out[(size_t)h * D + d] += s[t] / sum * b.v[((size_t)keys[t] * Hkv + kvh) * D + d];
  }
  return out;
}

void run_selected(KvCache& cache, kv::testing::Batch& b, const TokenSelection& sel) {
  kv::testing::run(cache, 0, Phase::Prefill, b, &sel);
}

TEST(TokenSelection, OnlySelectedTokensTakePartInPrefillAttention) {
  auto m = tiny_model(1, 4, 2, 64);
  const KvGeometry g = m.geometry(2);
  std::mt19937 rng(7);
  const int n = 12;
  const std::vector<int32_t> chosen = {0, 2, 3, 7, 8, 11};
  for (bool all_queries : {false, true}) {
    auto b = random_batch(g, 0, n, rng);
    DenseKvCache cache(g, DenseKvType::F32);
    TokenSelection sel{chosen, all_queries};
    run_selected(cache, b, sel);
    for (int i = 0; i < n; ++i) {
      const bool is_sel = std::find(chosen.begin(), chosen.end(), i) != chosen.end();
      std::vector<int> keys;
      for (int j : chosen)
        if (j <= i) keys.push_back(j);
      std::vector<double> ref((size_t)g.n_q_heads * g.head_dim, 0.0);
      if (is_sel || all_queries) ref = reference_row(g, b, i, keys);
      for (size_t x = 0; x < ref.size(); ++x)
        ASSERT_NEAR(b.out[(size_t)i * ref.size() + x], ref[x], 2e-5) << "row " << i << " all_queries=" << all_queries;
    }
    // Every token is still stored for later decode steps (selection concerns the prefill's attention only).
    EXPECT_EQ(cache.tokens(0, 0), n);
  }
}

TEST(TokenSelection, RejectsIndicesOutsideTheBatchOrUnsorted) {
  auto m = tiny_model(1, 2, 1, 64);
  const KvGeometry g = m.geometry();
  std::mt19937 rng(1);
  auto b = random_batch(g, 0, 4, rng);
  DenseKvCache cache(g, DenseKvType::F32);
  EXPECT_THROW(run_selected(cache, b, TokenSelection{{0, 4}, false}), std::invalid_argument);
  EXPECT_THROW(run_selected(cache, b, TokenSelection{{2, 1}, false}), std::invalid_argument);
}

// ---- weights --------------------------------------------------------------------------------------------------

std::vector<float> logits_of(const Model& mdl, const std::vector<int32_t>& tokens) {
  Session s(mdl, std::make_unique<DenseKvCache>(mdl.kv_geometry(2), DenseKvType::F32), 2);
  const float* l = s.prefill(tokens, Logits::All);
  return std::vector<float>(l, l + tokens.size() * (size_t)mdl.config().vocab_size);
}

// Replaces layers by a different kernel computing the same product (a plain loop over the dense weights), and
// records what calibration it was given.
class RecordingTransform : public WeightTransform {
 public:
  class LoopLinear : public LinearOp {
   public:
    LoopLinear(const DenseWeights& w) : w_(w.w, w.w + (size_t)w.out * w.in), out_(w.out), in_(w.in) {
      if (w.bias) bias_.assign(w.bias, w.bias + w.out);
    }
    int in_features() const override { return in_; }
    int out_features() const override { return out_; }
    void forward(const float* x, int n, float* y, int) const override {
      for (int r = 0; r < n; ++r)
        for (int o = 0; o < out_; ++o) {
          double acc = bias_.empty() ? 0.0 : bias_[o];
          for (int k = 0; k < in_; ++k) acc += (double)x[(size_t)r * in_ + k] * w_[(size_t)o * in_ + k];
          y[(size_t)r * out_ + o] = (float)acc;
        }
    }
    size_t bytes() const override { return (w_.size() + bias_.size()) * sizeof(float); }
    std::string format() const override { return "test-loop-f32"; }

   private:
    std::vector<float> w_, bias_;
    int out_, in_;
  };

  bool wants_calibration() const override { return true; }
  std::unique_ptr<LinearOp> transform(const LinearSite& site, const DenseWeights& w,
                                      const CalibrationData* calib) override {
    const CalibrationData::Site* s = calib ? calib->find(site.name()) : nullptr;
    seen[site.name()] = s ? s->n_rows() : -1;
    in_dims[site.name()] = s ? s->in : -1;
    // Replace the layers of blocks 1-2 (enough to see the replacement used; the loop kernel is slow), keep the rest.
    if (site.layer < 1 || site.layer > 2) return nullptr;
    return std::make_unique<LoopLinear>(w);
  }
  std::map<std::string, int64_t> seen;
  std::map<std::string, int> in_dims;
};

TEST(WeightTransform, ReplacesLayersWithCalibrationAtHand) {
  BENCH_REQUIRE_MODEL(path);
  auto mdl = Model::load(path, LoadOptions{WeightStorage::F32, 2});
  const ModelConfig& c = mdl->config();
  const std::vector<int32_t> tokens = mdl->tokenizer().encode("The quick brown fox jumps over the lazy dog.", false,
                                                              false);
  const std::vector<float> before = logits_of(*mdl, tokens);
  const size_t bytes_before = mdl->weight_bytes();

  std::vector<int32_t> calib = mdl->tokenizer().encode(std::string(400, 'a') + " calibration text", false, false);
  RecordingTransform t;
  mdl->apply_weight_transform(t, calib, 2);

  // Every site was offered, with its own inputs recorded during one full-precision pass over the calibration text.
  EXPECT_EQ(t.seen.size(), (size_t)c.n_layers * 7 + 1);
  for (const auto& [name, rows] : t.seen) EXPECT_EQ(rows, (int64_t)calib.size()) << name;
  EXPECT_EQ(t.in_dims["blk.3.ffn_down"], c.d_ff);
  EXPECT_EQ(t.in_dims["blk.3.attn_q"], c.d_model);
  EXPECT_EQ(t.in_dims["blk.3.attn_output"], c.q_dim());
  // The replacements are used (their format shows) and compute the same product.
  EXPECT_EQ(mdl->linear({2, LinearKind::Up}).format(), "test-loop-f32");
  EXPECT_EQ(mdl->linear({0, LinearKind::Up}).format(), "f32");
  EXPECT_EQ(mdl->linear({5, LinearKind::Up}).format(), "f32");
  EXPECT_EQ(mdl->weight_bytes(), bytes_before);  // same F32 bytes, now held by the replacement
  const std::vector<float> after = logits_of(*mdl, tokens);
  float worst = 0;
  for (size_t i = 0; i < after.size(); ++i) worst = std::max(worst, std::fabs(after[i] - before[i]));
  EXPECT_LT(worst, 1e-3f);
  // Applying a weight method twice to the same model is refused.
  RecordingTransform again;
  EXPECT_THROW(mdl->apply_weight_transform(again, calib, 2), std::logic_error);
}

}  // namespace
}  // namespace bp::rt
