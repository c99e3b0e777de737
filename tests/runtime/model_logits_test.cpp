// The forward pass against an independent reference: transformers (PyTorch, float32) on the same GGUF weights.
// Fixture: tests/runtime/fixtures/make_logits_fixture.py. Also: prefill == token-by-token decode, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/model.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

struct Reference {
  nlohmann::json meta;
  std::vector<char> blob;
};

const Reference& reference() {
  static Reference r = [] {
    Reference ref;
    const std::string dir = test::source_dir() + "/tests/runtime/fixtures/";
    std::ifstream j(dir + "smollm2_logits_ref.json");
    ref.meta = nlohmann::json::parse(j);
    std::ifstream b(dir + "smollm2_logits_ref.bin", std::ios::binary);
    ref.blob.assign(std::istreambuf_iterator<char>(b), {});
    return ref;
  }();
  return r;
}

Model& model() {
  static std::unique_ptr<Model> m = Model::load(test::default_model_path(), LoadOptions{WeightStorage::F32, 2});
  return *m;
}

std::unique_ptr<Session> f32_session(int threads) {
  return std::make_unique<Session>(model(), std::make_unique<DenseKvCache>(model().kv_geometry(threads),
                                                                          DenseKvType::F32),
                                   threads);
}

double logsumexp(const float* row, int V) {
  double m = row[0];
  for (int i = 1; i < V; ++i) m = std::max<double>(m, row[i]);
  double s = 0;
  for (int i = 0; i < V; ++i) s += std::exp(row[i] - m);
  return m + std::log(s);
}

TEST(ModelLogits, MatchTransformersOnSameWeights) {
  BENCH_REQUIRE_MODEL(path);
  const Reference& ref = reference();
  ASSERT_EQ(ref.meta["model_sha256"], model().file_info().sha256) << "fixture made for another model file";
  const int L = ref.meta["seq_len"], K = ref.meta["top_k"];
  const std::vector<int> sampled = ref.meta["sampled_ids"];
  const int S = (int)sampled.size(), V = model().config().vocab_size;
  for (const auto& seq : ref.meta["sequences"]) {
    std::vector<int32_t> tokens = seq["tokens"];
    ASSERT_EQ((int)tokens.size(), L);
    const char* base = ref.blob.data() + seq["offset"].get<size_t>();
    const int32_t* top_idx = reinterpret_cast<const int32_t*>(base);
    const float* top_val = reinterpret_cast<const float*>(base + (size_t)L * K * 4);
    const float* samp = reinterpret_cast<const float*>(base + (size_t)L * K * 8);
    const float* lse = reinterpret_cast<const float*>(base + (size_t)L * K * 8 + (size_t)L * S * 4);

    auto s = f32_session(2);
    const float* logits = s->prefill(tokens, Logits::All);
    float worst = 0.0f;
    int argmax_mismatch = 0;
    for (int p = 0; p < L; ++p) {
      const float* row = logits + (size_t)p * V;
      for (int k = 0; k < K; ++k) worst = std::max(worst, std::fabs(row[top_idx[p * K + k]] - top_val[p * K + k]));
      for (int j = 0; j < S; ++j) worst = std::max(worst, std::fabs(row[sampled[j]] - samp[p * S + j]));
      EXPECT_NEAR(logsumexp(row, V), lse[p], 1e-3) << seq["name"] << " position " << p;
      const int am = (int)(std::max_element(row, row + V) - row);
      if (am != top_idx[p * K]) ++argmax_mismatch;
    }
    EXPECT_LE(worst, 1e-3f) << seq["name"];
    EXPECT_EQ(argmax_mismatch, 0) << seq["name"];
    std::printf("[ logits ] %s: max |ours - transformers| = %.3g over %d positions\n",
                seq["name"].get<std::string>().c_str(), worst, L);
  }
}

TEST(ModelLogits, DecodeStepByStepEqualsPrefill) {
  BENCH_REQUIRE_MODEL(path);
  std::vector<int32_t> tokens = reference().meta["sequences"][0]["tokens"];
  tokens.resize(48);
  const int V = model().config().vocab_size;
  auto a = f32_session(2);
  const float* all = a->prefill(tokens, Logits::All);
  std::vector<float> pre(all, all + tokens.size() * V);
  auto b = f32_session(2);
  b->prefill(std::span<const int32_t>(tokens.data(), 16), Logits::None);
  float worst = 0.0f;
  for (size_t i = 16; i < tokens.size(); ++i) {
    const float* row = b->decode(std::span<const int32_t>(&tokens[i], 1), Logits::Last);
    for (int v = 0; v < V; ++v) worst = std::max(worst, std::fabs(row[v] - pre[i * V + v]));
  }
  EXPECT_EQ(b->n_past(), (int64_t)tokens.size());
  EXPECT_LT(worst, 2e-4f);
}

TEST(ModelLogits, DeterministicForThreadCountAndAcrossRuns) {
  BENCH_REQUIRE_MODEL(path);
  std::vector<int32_t> tokens = reference().meta["sequences"][1]["tokens"];
  tokens.resize(100);
  const int V = model().config().vocab_size;
  auto run = [&](int threads) {
    auto s = f32_session(threads);
    const float* l = s->prefill(tokens, Logits::All);
    return std::vector<float>(l, l + tokens.size() * V);
  };
  const auto a = run(2), b = run(2), c = run(1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(ModelLogits, F16StorageStaysClose) {
  BENCH_REQUIRE_MODEL(path);
  auto m16 = Model::load(test::default_model_path(), LoadOptions{WeightStorage::F16, 2});
  EXPECT_LT(m16->weight_bytes(), model().weight_bytes() * 0.55);
  std::vector<int32_t> tokens = reference().meta["sequences"][0]["tokens"];
  tokens.resize(64);
  const int V = model().config().vocab_size;
  Session s16(*m16, std::make_unique<DenseKvCache>(m16->kv_geometry(2), DenseKvType::F32), 2);
  const float* l16 = s16.prefill(tokens, Logits::All);
  std::vector<float> a(l16, l16 + 64 * V);
  auto s32 = f32_session(2);
  const float* l32 = s32->prefill(tokens, Logits::All);
  int agree = 0;
  for (int p = 0; p < 64; ++p) {
    const float* x = a.data() + (size_t)p * V;
    const float* y = l32 + (size_t)p * V;
    agree += (std::max_element(x, x + V) - x) == (std::max_element(y, y + V) - y);
  }
  EXPECT_GE(agree, 60);
}

}  // namespace
}  // namespace bp::rt
