// h2o against a slow reference written from the definition (double precision): attention over exactly the kept
// tokens, scores = accumulated column sums of the softmax probabilities (summed over the KV group's query heads),
// eviction = recent window by position + top heavy hitters by score among the rest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "harness/common/error.h"
#include "harness/runtime/kv/keep_tokens.h"
#include "tests/common/kv/test_eviction.h"
#include "tests/common/kv/test_smoke.h"
#include "methods/h2o/h2o_cache.h"
#include "tests/common/test_env.h"

namespace bp::methods::h2o {
namespace {

using namespace rt::kv::testing;
using rt::Phase;
using rt::kv::TokenFormat;

struct RefTok {
  int pos;
  std::vector<double> hk, hv;  // held (FP16 / dequantized) rotated key and value
  std::vector<float> v;        // exact value (to identify the token)
  double score;
};

// Budget by the definition: floor(ratio · prompt), at least one token for a non-zero ratio.
struct RefBudget {
  bool ratio;
  double hr, rr;
  int64_t ht, rt;
  int64_t heavy(int64_t P) const { return ratio ? (hr > 0 ? std::max<int64_t>(1, (int64_t)std::floor(hr * P)) : 0) : ht; }
  int64_t recent(int64_t P) const { return ratio ? (rr > 0 ? std::max<int64_t>(1, (int64_t)std::floor(rr * P)) : 0) : rt; }
};

// Runs the calls on every layer through `cache` and through the reference; checks outputs, kept positions and
// scores after every call. Returns the worst output difference.
double drive_h2o(rt::KvCache& cache, const TinyModel& tm, const std::vector<int>& calls, int prefill_calls,
                 const RefBudget& bud, const TokenFormat& fmt, uint32_t seed) {
  const rt::KvGeometry g = tm.geometry();
  const int L = g.n_layers, Hkv = g.n_kv_heads, D = g.head_dim;
  const H2oCache& h2o = dynamic_cast<const H2oCache&>(cache);
  std::mt19937 rng(seed);
  std::vector<std::vector<RefTok>> held((size_t)L * Hkv);
  int64_t pos = 0, prompt = 0;
  double worst = 0;
  for (size_t c = 0; c < calls.size(); ++c) {
    const int n = calls[c];
    const Phase ph = (int)c < prefill_calls ? Phase::Prefill : Phase::Decode;
    if (ph == Phase::Prefill) prompt += n;
    for (int layer = 0; layer < L; ++layer) {
      Batch b = random_batch(g, pos, n, rng);
      run(cache, layer, ph, b);
      const std::vector<float> q_rot = rotated(*tm.rope, b.q, n, g.n_q_heads, D, b.pos);
      const std::vector<float> k_rot = rotated(*tm.rope, b.k, n, Hkv, D, b.pos);
      std::vector<std::vector<std::vector<double>>> keys((size_t)Hkv), vals((size_t)Hkv);
      for (int h = 0; h < Hkv; ++h)
        for (const RefTok& t : held[(size_t)layer * Hkv + h]) {
          keys[(size_t)h].push_back(t.hk);
          vals[(size_t)h].push_back(t.hv);
        }
      const RefAttention R =
          ref_attention(g, q_rot, n, keys, vals, std::vector<double>(k_rot.begin(), k_rot.end()), b.v);
      worst = std::max(worst, max_abs_diff(b.out, R.out));
      for (int h = 0; h < Hkv; ++h) {
        std::vector<RefTok>& H = held[(size_t)layer * Hkv + h];
        const size_t S = H.size();
        for (size_t t = 0; t < S; ++t) H[t].score += R.col[(size_t)h][t];
        for (int i = 0; i < n; ++i) {
          RefTok t;
          t.pos = b.pos[(size_t)i];
          const float* kr = k_rot.data() + ((size_t)i * Hkv + h) * D;
          const float* vv = b.v.data() + ((size_t)i * Hkv + h) * D;
          const std::vector<float> hk = held_row(kr, D, fmt), hv = held_row(vv, D, fmt);
          t.hk.assign(hk.begin(), hk.end());
          t.hv.assign(hv.begin(), hv.end());
          t.v.assign(vv, vv + D);
          t.score = R.col[(size_t)h][S + i];
          H.push_back(t);
        }
        // Evict: recent window by position, then heavy hitters by score (ties: later position).
        const bool known = !bud.ratio || prompt > 0;
        const int64_t hv = bud.heavy(prompt), rv = bud.recent(prompt);
        if (known && (int64_t)H.size() > hv + rv) {
          std::sort(H.begin(), H.end(), [](const RefTok& a, const RefTok& b) { return a.pos > b.pos; });
          std::stable_sort(H.begin() + rv, H.end(), [](const RefTok& a, const RefTok& b) {
            return a.score != b.score ? a.score > b.score : a.pos > b.pos;
          });
          H.resize((size_t)(hv + rv));
        }
        std::vector<int> want, got(h2o.positions(layer, h).begin(), h2o.positions(layer, h).end());
        for (const RefTok& t : H) want.push_back(t.pos);
        std::sort(want.begin(), want.end());
        std::vector<int> order((size_t)got.size());
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return got[(size_t)a] < got[(size_t)b]; });
        std::vector<int> got_sorted;
        for (int o : order) got_sorted.push_back(got[(size_t)o]);
        EXPECT_EQ(got_sorted, want) << "call " << c << " layer " << layer << " head " << h;
        EXPECT_EQ(cache.tokens(layer, h), (int64_t)want.size());
        // Scores, token by token (the cache accumulates in FP32).
        for (size_t j = 0; j < got.size(); ++j)
          for (const RefTok& t : H)
            if (t.pos == got[j]) {
              EXPECT_NEAR(h2o.scores(layer, h)[j], t.score, 1e-4 * (1 + t.score));
            }
        // The store's slot j holds the token whose position the cache says (values identify tokens).
        std::vector<std::vector<float>> hist;
        std::vector<int> hist_pos;
        for (const RefTok& t : H) hist.push_back(t.v), hist_pos.push_back(t.pos);
        const rt::kv::TokenStore& st = h2o.store_at(layer, h);
        std::vector<float> vrow((size_t)D);
        for (int64_t j = 0; j < st.size(); ++j) {
          st.read(j, 1, nullptr, vrow.data(), D);
          double best = 1e30;
          int best_pos = -1;
          for (size_t u = 0; u < hist.size(); ++u) {
            double d2 = 0;
            for (int d = 0; d < D; ++d) d2 += std::pow((double)vrow[(size_t)d] - hist[u][(size_t)d], 2);
            if (d2 < best) best = d2, best_pos = hist_pos[u];
          }
          EXPECT_EQ(best_pos, got[(size_t)j]) << "slot " << j;
        }
      }
    }
    pos += n;
  }
  return worst;
}

TEST(H2o, RatioBudgetMatchesReference) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  // Prompt 40: heavy floor(0.2·40) = 8, recent floor(0.1·40) = 4, budget 12 per KV head.
  auto cache = make_cache("h2o", {{"heavy_ratio", 0.2}, {"recent_ratio", 0.1}}, tm.geometry());
  const RefBudget bud{true, 0.2, 0.1, 0, 0};
  const double worst = drive_h2o(*cache, tm, {40, 1, 1, 1, 3, 1, 1}, 1, bud, TokenFormat::fp16(), 7);
  EXPECT_LE(worst, 1e-4);
  EXPECT_EQ(cache->tokens(0, 0), 12);
  EXPECT_EQ(cache->stats()["heavy"], 8);
  EXPECT_EQ(cache->stats()["recent"], 4);
}

TEST(H2o, TokenBudgetAndChunkedPrefill) {
  const TinyModel tm = tiny_model(2, 6, 2, 64);  // group of 3 query heads per KV head
  auto cache = make_cache("h2o", {{"budget", "tokens"}, {"heavy_tokens", 6}, {"recent_tokens", 3}}, tm.geometry(2));
  const RefBudget bud{false, 0, 0, 6, 3};
  // Two prefill calls (the second one sees an evicted cache), then decode steps and a multi-token decode call.
  EXPECT_LE(drive_h2o(*cache, tm, {20, 15, 1, 1, 4, 1}, 2, bud, TokenFormat::fp16(), 3), 1e-4);
  EXPECT_EQ(cache->tokens(1, 1), 9);
}

TEST(H2o, ZeroRecentStillEvicts) {
  // recent 0: pure heavy hitters; the reference code's [-0:] slicing would keep everything (H2O issue #33).
  const TinyModel tm = tiny_model(1, 4, 2, 64);
  auto cache = make_cache("h2o", {{"heavy_ratio", 0.25}, {"recent_ratio", 0.0}}, tm.geometry());
  const RefBudget bud{true, 0.25, 0.0, 0, 0};
  EXPECT_LE(drive_h2o(*cache, tm, {32, 1, 1, 1, 1, 2}, 1, bud, TokenFormat::fp16(), 11), 1e-4);
  EXPECT_EQ(cache->tokens(0, 1), 8);
}

TEST(H2o, QuantizedStorageAttendsOverDequantizedKeptTokens) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  const TokenFormat fmt = TokenFormat::quantized(4, 32, false);
  auto cache = make_cache("h2o", {{"storage", "int4"}}, tm.geometry());
  const RefBudget bud{true, 0.1, 0.1, 0, 0};
  EXPECT_LE(drive_h2o(*cache, tm, {50, 1, 1, 2, 1}, 1, bud, fmt, 5), 2e-4);
  // Against an FP16 reference an int4 cache is measurably off: the test sees the quantization.
  const TinyModel tm2 = tiny_model(1, 4, 2, 64);
  auto c3 = make_cache("h2o", {{"storage", "int4"}, {"heavy_ratio", 0.5}, {"recent_ratio", 0.5}}, tm2.geometry());
  // No eviction (budget = prompt) so the only difference left is quantization.
  std::mt19937 rng(1);
  Batch b1 = random_batch(tm2.geometry(), 0, 20, rng);
  run(*c3, 0, Phase::Prefill, b1);
  Batch b2 = random_batch(tm2.geometry(), 20, 1, rng);
  run(*c3, 0, Phase::Decode, b2);
  const std::vector<float> k1 = rotated(*tm2.rope, b1.k, 20, 2, 64, b1.pos);
  const std::vector<float> q2 = rotated(*tm2.rope, b2.q, 1, 4, 64, b2.pos);
  const std::vector<float> k2 = rotated(*tm2.rope, b2.k, 1, 2, 64, b2.pos);
  auto ref_with = [&](const TokenFormat& f) {
    std::vector<std::vector<std::vector<double>>> keys(2), vals(2);
    for (int h = 0; h < 2; ++h)
      for (int t = 0; t < 20; ++t) {
        const std::vector<float> hk = held_row(k1.data() + ((size_t)t * 2 + h) * 64, 64, f);
        const std::vector<float> hv = held_row(b1.v.data() + ((size_t)t * 2 + h) * 64, 64, f);
        keys[(size_t)h].emplace_back(hk.begin(), hk.end());
        vals[(size_t)h].emplace_back(hv.begin(), hv.end());
      }
    return ref_attention(tm2.geometry(), q2, 1, keys, vals, std::vector<double>(k2.begin(), k2.end()), b2.v).out;
  };
  EXPECT_LE(max_abs_diff(b2.out, ref_with(fmt)), 2e-4);
  EXPECT_GT(max_abs_diff(b2.out, ref_with(TokenFormat::fp16())), 2e-3);
}

TEST(H2o, BytesAreStorePlusScorePlusPosition) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  {
    auto cache = make_cache("h2o", {{"budget", "tokens"}, {"heavy_tokens", 40}, {"recent_tokens", 30}}, tm.geometry());
    EXPECT_EQ(cache->bytes().total(), 0u);
    std::mt19937 rng(2);
    for (int layer = 0; layer < 2; ++layer) {
      Batch b = random_batch(tm.geometry(), 0, 100, rng);
      run(*cache, layer, Phase::Prefill, b);
    }
    // 70 kept per (layer, KV head), 4 of them: FP16 K+V 70·64·2·2, FP32 score 70·4, int32 position 70·4.
    const rt::KvBytes b = cache->bytes();
    EXPECT_EQ(b.payload, 4u * 70 * 256);
    EXPECT_EQ(b.scores, 4u * 70 * 4);
    EXPECT_EQ(b.indices, 4u * 70 * 4);
    EXPECT_EQ(b.scales + b.zeros + b.window + b.other, 0u);
    cache->reset();
    EXPECT_EQ(cache->bytes().total(), 0u);
  }
  {
    // int4, groups of 32 channels, asymmetric: keys in whole 64-token tiles (70 -> 128 token slots): codes
    // 128·32 B, scales and mins 128·2·2 B each; values 70·32 B codes + 70·2·2 B scales and mins.
    auto cache = make_cache("h2o", {{"budget", "tokens"}, {"heavy_tokens", 40}, {"recent_tokens", 30},
                                    {"storage", "int4"}}, tm.geometry());
    std::mt19937 rng(2);
    for (int layer = 0; layer < 2; ++layer) {
      Batch b = random_batch(tm.geometry(), 0, 100, rng);
      run(*cache, layer, Phase::Prefill, b);
    }
    const rt::KvBytes b = cache->bytes();
    EXPECT_EQ(b.payload, 4u * (128 * 32 + 70 * 32));
    EXPECT_EQ(b.scales, 4u * (128 * 4 + 70 * 4));
    EXPECT_EQ(b.zeros, 4u * (128 * 4 + 70 * 4));
    EXPECT_EQ(b.scores + b.indices, 4u * 70 * 8);
  }
}

TEST(H2o, KeepTokensReusesSlotsAndReportsSources) {
  rt::kv::TokenStore st(64, TokenFormat::fp16());
  std::vector<float> k(64 * 8), v(64 * 8);
  for (size_t i = 0; i < k.size(); ++i) k[i] = (float)(i / 64), v[i] = -(float)(i / 64);
  st.append(k.data(), v.data(), 64, 5);  // tokens 0..4 hold values -0..-4
  // Drop stored 1 and 3, keep new tokens 0 and 2 (values -5, -7 when new rows are k/v rows 5..7).
  const std::vector<uint8_t> keep = {1, 0, 1, 0, 1, 1, 0, 1};
  const std::vector<int32_t> src = rt::kv::keep_tokens(st, k.data() + 5 * 64, v.data() + 5 * 64, 64, 3, keep);
  EXPECT_EQ(src, (std::vector<int32_t>{0, 5, 2, 7, 4}));
  std::vector<float> got(5 * 64);
  st.read(0, 5, nullptr, got.data(), 64);
  for (int j = 0; j < 5; ++j) EXPECT_EQ(got[(size_t)j * 64], -(float)src[(size_t)j]) << j;  // token s has value -s
  // More drops than new tokens: the leftover holes are compacted, order of the survivors kept.
  const std::vector<uint8_t> keep2 = {0, 1, 0, 1, 0, 1};
  const std::vector<int32_t> src2 = rt::kv::keep_tokens(st, k.data(), v.data(), 64, 1, keep2);
  EXPECT_EQ(src2, (std::vector<int32_t>{5, 1, 3}));
  EXPECT_EQ(st.size(), 3);
  EXPECT_EQ(rt::kv::remap_side(src2, std::vector<int>{10, 11, 12, 13, 14}, std::vector<int>{99}.data()),
            (std::vector<int>{99, 11, 13}));
}

TEST(H2o, RejectsInvalidParameters) {
  EXPECT_NO_THROW(method_params("h2o", nlohmann::json::object()));
  EXPECT_NO_THROW(method_params("h2o", {{"budget", "tokens"}, {"heavy_tokens", 0}, {"recent_tokens", 8}}));
  EXPECT_THROW(method_params("h2o", {{"heavy_tokens", 64}}), InputError);               // ratio mode
  EXPECT_THROW(method_params("h2o", {{"budget", "tokens"}, {"heavy_ratio", 0.2}}), InputError);
  EXPECT_THROW(method_params("h2o", {{"heavy_ratio", 0.0}, {"recent_ratio", 0.0}}), InputError);
  EXPECT_THROW(method_params("h2o", {{"heavy_ratio", 0.7}, {"recent_ratio", 0.5}}), InputError);
  EXPECT_THROW(method_params("h2o", {{"budget", "tokens"}, {"heavy_tokens", 0}, {"recent_tokens", 0}}), InputError);
  EXPECT_THROW(method_params("h2o", {{"storage_group", 64}}), InputError);  // fp16 storage
  EXPECT_THROW(method_params("h2o", {{"budget", "all"}}), InputError);
  EXPECT_THROW(method_params("h2o", {{"heavy_ratio", 1.5}}), InputError);
}

TEST(H2o, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "h2o", nlohmann::json::object());
  EXPECT_TRUE(r.finite);
  const int64_t total = (int64_t)(r.fp16_bytes / 23040), prompt = total - r.steps;
  const int64_t part = (int64_t)std::floor(0.1 * (double)prompt);
  EXPECT_EQ(r.tokens, 2 * part);
  // 30 layers x 3 KV heads x (FP16 K+V 256 B + score 4 B + position 4 B) per kept token.
  EXPECT_EQ(r.bytes, (size_t)(90 * 2 * part * 264));
  EXPECT_NEAR(r.ratio, (double)total * 256.0 / (2.0 * part * 264.0), 1e-9);
  EXPECT_GT(r.ratio, 4.5);
  std::printf("h2o smoke: prompt %lld, kept %lld, ratio %.2fx, greedy agreement %d/%d\n", (long long)prompt,
              (long long)r.tokens, r.ratio, r.agree, r.steps);
  EXPECT_GE(r.agree, r.steps / 2) << "a 20% H2O cache should mostly keep fp16's greedy choice on this text";
}

}  // namespace
}  // namespace bp::methods::h2o
