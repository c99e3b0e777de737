// snapkv against a slow reference written from the definition (double precision): at a prefill longer than the
// capacity C, the last w queries' softmax probabilities over the prefix (summed over rows and the KV group's query
// heads) are pooled over the token axis; the top C - w prefix tokens + the window stay; decode tokens are appended.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "harness/common/error.h"
#include "tests/common/kv/test_eviction.h"
#include "tests/common/kv/test_smoke.h"
#include "methods/snapkv/snapkv_cache.h"
#include "tests/common/test_env.h"

namespace bp::methods::snapkv {
namespace {

using namespace rt::kv::testing;
using rt::Phase;
using rt::kv::TokenFormat;

struct RefConfig {
  bool ratio = false;
  int capacity = 0;
  double capacity_ratio = 0;
  int window = 32, kernel = 5;
  bool maxpool = false;
};

struct RefTok {
  int pos;
  std::vector<double> hk, hv;
  std::vector<float> v;
};

// Pooling by the definition: the kernel/2 neighbours on each side; avg divides by the kernel (zeros outside).
std::vector<double> ref_pool(const std::vector<double>& x, int kernel, bool maxpool) {
  const int L = (int)x.size(), p = kernel / 2;
  std::vector<double> out((size_t)L);
  for (int j = 0; j < L; ++j) {
    double acc = maxpool ? -1e300 : 0.0;
    for (int t = j - p; t <= j + p; ++t) {
      if (t < 0 || t >= L) continue;
      acc = maxpool ? std::max(acc, x[(size_t)t]) : acc + x[(size_t)t];
    }
    out[(size_t)j] = maxpool ? acc : acc / kernel;
  }
  return out;
}

// Drives the calls on every layer; checks outputs after every call and the held tokens of every store.
double drive_snapkv(rt::KvCache& cache, const TinyModel& tm, const std::vector<int>& calls, int prefill_calls,
                    const RefConfig& rc, const TokenFormat& fmt, uint32_t seed) {
  const rt::KvGeometry g = tm.geometry();
  const int L = g.n_layers, Hkv = g.n_kv_heads, D = g.head_dim;
  const auto& sc = dynamic_cast<const rt::kv::TokenStoreCache&>(cache);
  std::mt19937 rng(seed);
  std::vector<std::vector<RefTok>> held((size_t)L * Hkv);
  double worst = 0;
  int64_t pos = 0;
  for (size_t c = 0; c < calls.size(); ++c) {
    const int n = calls[c];
    const bool prefill = (int)c < prefill_calls;
    for (int layer = 0; layer < L; ++layer) {
      Batch b = random_batch(g, pos, n, rng);
      run(cache, layer, prefill ? Phase::Prefill : Phase::Decode, b);
      const std::vector<float> q_rot = rotated(*tm.rope, b.q, n, g.n_q_heads, D, b.pos);
      const std::vector<float> k_rot = rotated(*tm.rope, b.k, n, Hkv, D, b.pos);
      const int S = (int)held[(size_t)layer * Hkv].size(), total = S + n;
      const int C = rc.ratio ? std::max(1, (int)std::floor(rc.capacity_ratio * total)) : rc.capacity;
      const int w = std::min({rc.window, n, C});
      std::vector<int> rows;
      for (int i = n - w; i < n; ++i) rows.push_back(i);
      std::vector<std::vector<std::vector<double>>> keys((size_t)Hkv), vals((size_t)Hkv);
      for (int h = 0; h < Hkv; ++h)
        for (const RefTok& t : held[(size_t)layer * Hkv + h]) {
          keys[(size_t)h].push_back(t.hk);
          vals[(size_t)h].push_back(t.hv);
        }
      const RefAttention R =
          ref_attention(g, q_rot, n, keys, vals, std::vector<double>(k_rot.begin(), k_rot.end()), b.v, rows);
      worst = std::max(worst, max_abs_diff(b.out, R.out));
      for (int h = 0; h < Hkv; ++h) {
        std::vector<RefTok>& H = held[(size_t)layer * Hkv + h];
        for (int i = 0; i < n; ++i) {
          const float* kr = k_rot.data() + ((size_t)i * Hkv + h) * D;
          const float* vv = b.v.data() + ((size_t)i * Hkv + h) * D;
          const std::vector<float> hk = held_row(kr, D, fmt), hv = held_row(vv, D, fmt);
          H.push_back({b.pos[(size_t)i], std::vector<double>(hk.begin(), hk.end()),
                       std::vector<double>(hv.begin(), hv.end()), std::vector<float>(vv, vv + D)});
        }
        if (prefill && total > C) {
          const int prefix = total - w;
          std::vector<double> votes(R.col[(size_t)h].begin(), R.col[(size_t)h].begin() + prefix);
          const std::vector<double> pooled = ref_pool(votes, rc.kernel, rc.maxpool);
          std::vector<int> order((size_t)prefix);
          std::iota(order.begin(), order.end(), 0);
          std::sort(order.begin(), order.end(), [&](int a, int b2) {
            return pooled[(size_t)a] != pooled[(size_t)b2] ? pooled[(size_t)a] > pooled[(size_t)b2] : a > b2;
          });
          std::vector<char> keep((size_t)total, 0);
          for (int j = 0; j < C - w; ++j) keep[(size_t)order[(size_t)j]] = 1;
          for (int t = prefix; t < total; ++t) keep[(size_t)t] = 1;
          std::vector<RefTok> kept;
          for (int t = 0; t < total; ++t)
            if (keep[(size_t)t]) kept.push_back(H[(size_t)t]);
          H.swap(kept);
        }
        std::vector<std::vector<float>> hist;
        std::vector<int> want;
        for (const RefTok& t : H) hist.push_back(t.v), want.push_back(t.pos);
        EXPECT_TRUE(holds_exactly(sc.store_at(layer, h), hist, want, fmt.packed() ? 1.0 : 0.02))
            << "call " << c << " layer " << layer << " head " << h;
      }
    }
    pos += n;
  }
  return worst;
}

TEST(SnapKv, AvgPoolSelectionMatchesReference) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  auto cache = make_cache("snapkv", {{"capacity", 16}, {"window", 4}, {"kernel", 3}}, tm.geometry());
  RefConfig rc;
  rc.capacity = 16, rc.window = 4, rc.kernel = 3;
  EXPECT_LE(drive_snapkv(*cache, tm, {40, 1, 1, 3, 1}, 1, rc, TokenFormat::fp16(), 3), 1e-4);
  EXPECT_EQ(cache->tokens(0, 0), 16 + 6);  // decode tokens appended, never evicted
  EXPECT_EQ(cache->stats()["kept_prompt_tokens"], 16);
}

TEST(SnapKv, MaxPoolWithLargerGroups) {
  const TinyModel tm = tiny_model(2, 6, 2, 64);
  auto cache =
      make_cache("snapkv", {{"capacity", 20}, {"window", 6}, {"kernel", 7}, {"pooling", "maxpool"}}, tm.geometry(2));
  RefConfig rc;
  rc.capacity = 20, rc.window = 6, rc.kernel = 7, rc.maxpool = true;
  EXPECT_LE(drive_snapkv(*cache, tm, {50, 1, 2, 1}, 1, rc, TokenFormat::fp16(), 8), 1e-4);
}

TEST(SnapKv, RatioCapacityAndChunkedPrefill) {
  const TinyModel tm = tiny_model(1, 4, 2, 64);
  auto cache = make_cache("snapkv", {{"budget", "ratio"}, {"capacity_ratio", 0.25}, {"window", 4}, {"kernel", 1}},
                          tm.geometry());
  RefConfig rc;
  rc.ratio = true, rc.capacity_ratio = 0.25, rc.window = 4, rc.kernel = 1;
  // First prefill 48 -> C = 12; second prefill of 10 sees 12 + 10 = 22 -> C = 5: window min(4, 10, 5) = 4.
  EXPECT_LE(drive_snapkv(*cache, tm, {48, 10, 1, 1}, 2, rc, TokenFormat::fp16(), 5), 1e-4);
  EXPECT_EQ(cache->tokens(0, 1), 5 + 2);
}

TEST(SnapKv, ShortPromptKeptWhole) {
  const TinyModel tm = tiny_model(1, 4, 2, 64);
  auto cache = make_cache("snapkv", {{"capacity", 64}, {"window", 8}}, tm.geometry());
  RefConfig rc;
  rc.capacity = 64, rc.window = 8;
  EXPECT_LE(drive_snapkv(*cache, tm, {50, 1, 1}, 1, rc, TokenFormat::fp16(), 1), 1e-4);
  EXPECT_EQ(cache->tokens(0, 0), 52);
  EXPECT_EQ(cache->stats()["selected"], false);
}

TEST(SnapKv, QuantizedStorage) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  auto cache = make_cache("snapkv", {{"capacity", 24}, {"window", 8}, {"storage", "int8"}}, tm.geometry());
  RefConfig rc;
  rc.capacity = 24, rc.window = 8;
  EXPECT_LE(drive_snapkv(*cache, tm, {60, 1, 1}, 1, rc, TokenFormat::quantized(8, 32, false), 12), 1e-4);
}

TEST(SnapKv, BytesAreTheKeptTokens) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  auto cache = make_cache("snapkv", {{"capacity", 48}, {"window", 8}, {"storage", "int2"}, {"storage_group", 64}},
                          tm.geometry());
  std::mt19937 rng(4);
  for (int layer = 0; layer < 2; ++layer) {
    Batch b = random_batch(tm.geometry(), 0, 200, rng);
    run(*cache, layer, Phase::Prefill, b);
  }
  for (int layer = 0; layer < 2; ++layer) {
    Batch b = random_batch(tm.geometry(), 200, 1, rng);
    run(*cache, layer, Phase::Decode, b);
  }
  // 49 tokens per (layer, KV head), int2 with one group of 64 channels, asymmetric: keys in one 64-token tile
  // (64·16 code bytes, 64 scales and 64 mins), values 49·16 code bytes + 49 scales + 49 mins (FP16).
  const rt::KvBytes b = cache->bytes();
  EXPECT_EQ(b.payload, 4u * (64 * 16 + 49 * 16));
  EXPECT_EQ(b.scales, 4u * (64 * 2 + 49 * 2));
  EXPECT_EQ(b.zeros, 4u * (64 * 2 + 49 * 2));
  EXPECT_EQ(b.scores + b.indices + b.window + b.other, 0u);
}

TEST(SnapKv, PoolingAndTopK) {
  const std::vector<float> x = {1, 0, 0, 3, 0, 2};
  EXPECT_EQ(pool1d(x, 3, Pooling::Avg), (std::vector<float>{1.0f / 3, 1.0f / 3, 1, 1, 5.0f / 3, 2.0f / 3}));
  EXPECT_EQ(pool1d(x, 3, Pooling::Max), (std::vector<float>{1, 1, 3, 3, 3, 2}));
  EXPECT_EQ(pool1d(x, 1, Pooling::Avg), x);
  EXPECT_EQ(top_k({1, 5, 5, 0, 2}, 2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(top_k({1, 5, 2, 0, 2}, 2), (std::vector<int32_t>{1, 4}));  // tie 2/2: the later token
}

TEST(SnapKv, RejectsInvalidParameters) {
  EXPECT_NO_THROW(method_params("snapkv", nlohmann::json::object()));
  const Params d = method_params("snapkv", nlohmann::json::object());
  EXPECT_EQ(d.get_int("capacity"), 2048);
  EXPECT_EQ(d.get_int("window"), 32);
  EXPECT_EQ(d.get_int("kernel"), 5);
  EXPECT_EQ(d.get_string("pooling"), "avgpool");
  EXPECT_THROW(method_params("snapkv", {{"kernel", 4}}), InputError);
  EXPECT_THROW(method_params("snapkv", {{"capacity", 32}}), InputError);  // not above the window
  EXPECT_THROW(method_params("snapkv", {{"capacity_ratio", 0.5}}), InputError);  // tokens mode
  EXPECT_THROW(method_params("snapkv", {{"budget", "ratio"}, {"capacity", 512}}), InputError);
  EXPECT_THROW(method_params("snapkv", {{"budget", "ratio"}, {"capacity_ratio", 0.0}}), InputError);
  EXPECT_THROW(method_params("snapkv", {{"storage", "int4"}, {"storage_group", 48}}), InputError);
  EXPECT_THROW(method_params("snapkv", {{"pooling", "sum"}}), InputError);
}

TEST(SnapKv, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "snapkv", {{"capacity", 64}, {"window", 16}});
  EXPECT_TRUE(r.finite);
  const int64_t total = (int64_t)(r.fp16_bytes / 23040);
  EXPECT_EQ(r.tokens, 64 + r.steps);  // the decode steps are appended
  EXPECT_EQ(r.bytes, (size_t)90 * (64 + r.steps) * 256);
  EXPECT_NEAR(r.ratio, (double)total / (64.0 + r.steps), 1e-9);
  std::printf("snapkv smoke: %lld tokens, kept %lld, ratio %.2fx, greedy agreement %d/%d\n", (long long)total,
              (long long)r.tokens, r.ratio, r.agree, r.steps);
  EXPECT_GE(r.agree, r.steps / 2) << "SnapKV at 64 tokens should mostly keep fp16's choice on repeated text";
}

}  // namespace
}  // namespace bp::methods::snapkv
