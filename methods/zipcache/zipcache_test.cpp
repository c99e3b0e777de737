// zipcache against a slow reference written from the algorithm (zipcache_cache.h, methods.md §1): probe-row
// saliency in double, per-head selection, per-class channelwise keys, channel-separable tokenwise values, the FP16
// decode buffer and the whole-cache re-compression every streaming_gap steps from dequantized values.
#include <gtest/gtest.h>

#include <numeric>

#include "harness/common/error.h"
#include "tests/common/kv/test_smoke.h"
#include "tests/common/kv/test_support.h"
#include "methods/zipcache/zipcache_cache.h"
#include "tests/common/test_env.h"

namespace bp::methods::zipcache {
namespace {

using namespace rt::kv::testing;
constexpr int D = 64;

// Dequantized rows of T tokens by the ZipCache quantizers with classes `high` (definition level).
void ref_quantize(const std::vector<float>& K, const std::vector<float>& V, int64_t T, const std::vector<uint8_t>& high,
                  int bh, int bl, std::vector<float>& dk, std::vector<float>& dv) {
  dk.assign((size_t)T * D, 0.0f);
  dv.assign((size_t)T * D, 0.0f);
  // Keys: per class, per channel, one asymmetric min-max group over all tokens of the class.
  for (int cls = 0; cls < 2; ++cls) {
    std::vector<int64_t> ids;
    for (int64_t t = 0; t < T; ++t)
      if ((bool)high[t] == (cls == 1)) ids.push_back(t);
    if (ids.empty()) continue;
    std::vector<float> col(ids.size()), out(ids.size());
    for (int d = 0; d < D; ++d) {
      for (size_t i = 0; i < ids.size(); ++i) col[i] = K[ids[i] * D + d];
      ref_quant_group(col.data(), (int)ids.size(), 1, cls ? bh : bl, false, out.data(), 1);
      for (size_t i = 0; i < ids.size(); ++i) dk[ids[i] * D + d] = out[i];
    }
  }
  // Values: c_d = fp16(sqrt(max_t |v_td|)) over all tokens; per token asymmetric over v / c; x̂ = (q·s + min)·c.
  std::vector<float> c(D), inv(D);
  for (int d = 0; d < D; ++d) {
    float mx = 0;
    for (int64_t t = 0; t < T; ++t) mx = std::max(mx, std::fabs(V[t * D + d]));
    c[d] = f16(std::sqrt(mx));
    inv[d] = c[d] > 0 ? 1.0f / c[d] : 0.0f;
  }
  std::vector<float> row(D), out(D);
  for (int64_t t = 0; t < T; ++t) {
    for (int d = 0; d < D; ++d) row[d] = V[t * D + d] * inv[d];
    ref_quant_group(row.data(), D, 1, high[t] ? bh : bl, false, out.data(), 1);
    for (int d = 0; d < D; ++d) dv[t * D + d] = out[d] * c[d];
  }
}

// Softmax probabilities (double) of query rows `rows` of head group h over `held` keys + the new keys causally,
// summed over the group's query heads and over the rows. Keys: held [S][D] then new k_rot rows of head h.
std::vector<double> ref_colsum(const rt::KvGeometry& g, const std::vector<float>& q_rot, const std::vector<float>& held,
                               const std::vector<float>& k_rot, int n, int h, const std::vector<int32_t>& rows) {
  const int Hq = g.n_q_heads, Hkv = g.n_kv_heads, G = g.group();
  const int64_t S = (int64_t)held.size() / D;
  std::vector<double> col((size_t)(S + n), 0.0);
  for (int i : rows)
    for (int qh = h * G; qh < (h + 1) * G; ++qh) {
      const float* q = q_rot.data() + ((size_t)i * Hq + qh) * D;
      std::vector<double> s;
      for (int64_t j = 0; j < S + i + 1; ++j) {
        const float* k = j < S ? held.data() + j * D : k_rot.data() + ((size_t)(j - S) * Hkv + h) * D;
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[d] * k[d];
        s.push_back(dot / std::sqrt((double)D));
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (size_t j = 0; j < s.size(); ++j) col[j] += s[j] / sum;
    }
  return col;
}

// Reference state of one (layer, KV head): what attention sees, the classes of the compressed tokens.
struct RefHead {
  std::vector<float> k, v;      // [T][D] as held (dequantized compressed part, then FP16 buffer)
  std::vector<uint8_t> high;    // classes of the compressed tokens
  int64_t compressed = 0;
};

struct Driver {
  TinyModel tm = tiny_model();
  Config cfg;
  std::unique_ptr<ZipCache> cache;
  std::vector<RefHead> ref;
  std::mt19937 rng{5};
  int64_t pos = 0;
  double worst = 0;
  int selection_mismatches = 0;

  explicit Driver(const Config& c) : cfg(c) {
    cache = std::make_unique<ZipCache>(tm.geometry(), cfg);
    ref.resize((size_t)tm.cfg.n_layers * tm.cfg.n_kv_heads);
  }

  void recompress(RefHead& r, const std::vector<float>& K, const std::vector<float>& V, int64_t T,
                  const std::vector<uint8_t>& high) {
    ref_quantize(K, V, T, high, cfg.bits_high, cfg.bits_low, r.k, r.v);
    r.high = high;
    r.compressed = T;
  }

  void call(int n, rt::Phase phase) {
    const rt::KvGeometry g = tm.geometry();
    const int Hkv = g.n_kv_heads;
    for (int layer = 0; layer < g.n_layers; ++layer) {
      Batch b = random_batch(g, pos, n, rng);
      run(*cache, layer, phase, b);
      const auto q_rot = rotated(*tm.rope, b.q, n, g.n_q_heads, D, b.pos);
      const auto k_rot = rotated(*tm.rope, b.k, n, Hkv, D, b.pos);
      std::vector<std::vector<float>> sk(Hkv), sv(Hkv);
      for (int h = 0; h < Hkv; ++h) sk[h] = ref[layer * Hkv + h].k, sv[h] = ref[layer * Hkv + h].v;
      worst = std::max(worst, max_abs_diff(b.out, reference_attention(g, q_rot, n, sk, sv, k_rot, b.v)));
      for (int h = 0; h < Hkv; ++h) update(g, layer, h, b, q_rot, k_rot, phase);
    }
    pos += n;
  }

  void update(const rt::KvGeometry& g, int layer, int h, const Batch& b, const std::vector<float>& q_rot,
              const std::vector<float>& k_rot, rt::Phase phase) {
    RefHead& r = ref[layer * g.n_kv_heads + h];
    const int n = b.n, Hkv = g.n_kv_heads;
    const int64_t S = (int64_t)r.k.size() / D, T = S + n, B = S - r.compressed;
    // Rows as they enter a re-quantization: held rows, then the new tokens exact.
    std::vector<float> K = r.k, V = r.v;
    for (int i = 0; i < n; ++i)
      for (int d = 0; d < D; ++d) {
        K.push_back(k_rot[((size_t)i * Hkv + h) * D + d]);
        V.push_back(b.v[((size_t)i * Hkv + h) * D + d]);
      }
    std::vector<uint8_t> high((size_t)T, 1);
    if (phase == rt::Phase::Prefill) {
      std::vector<int32_t> rows;
      if (cfg.exact) {
        rows.resize(n);
        std::iota(rows.begin(), rows.end(), 0);
      } else {
        rows = probe_rows(n, cfg.probe_recent, cfg.probe_random, cfg.seed, layer);
      }
      const std::vector<double> col = ref_colsum(g, q_rot, r.k, k_rot, n, h, rows);
      std::vector<double> sal(T);
      for (int64_t j = 0; j < T; ++j) {
        double cnt = 1;
        if (cfg.normalization == Normalization::Paper)
          cnt = j < S ? (double)rows.size() : (double)std::count_if(rows.begin(), rows.end(), [&](int i) { return i >= j - S; });
        if (cfg.normalization == Normalization::Reference) cnt = (double)(T - j);
        sal[j] = col[j] / cnt;
      }
      const int64_t low = (int64_t)std::floor((1.0 - cfg.saliency_ratio) * T + 1e-9);
      std::vector<int64_t> order(T);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return sal[a] < sal[c]; });
      for (int64_t i = 0; i < low; ++i) high[order[i]] = 0;
      check_selection(layer, h, high);
      recompress(r, K, V, T, high);
    } else if (B + n >= cfg.streaming_gap) {
      const std::vector<double> col = ref_colsum(g, q_rot, r.k, k_rot, n, h, {n - 1});
      for (int64_t t = 0; t < r.compressed; ++t) high[t] = r.high[t];
      const int64_t len = T - r.compressed;
      const int64_t low = (int64_t)std::floor((double)len * cfg.unimportant_count / cfg.streaming_gap + 1e-9);
      std::vector<int64_t> order(len);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t c) { return col[r.compressed + a] < col[r.compressed + c]; });
      for (int64_t i = 0; i < low; ++i) high[r.compressed + order[i]] = 0;
      check_selection(layer, h, high);
      recompress(r, K, V, T, high);
    } else {  // buffered in FP16
      for (int64_t i = S * D; i < T * D; ++i) K[i] = f16(K[i]), V[i] = f16(V[i]);
      r.k = K;
      r.v = V;
    }
  }

  void check_selection(int layer, int h, const std::vector<uint8_t>& high) {
    const kern::MixedKv mv = cache->mixed(layer, h).view();
    ASSERT_EQ(mv.tokens, (int64_t)high.size());
    for (int64_t t = 0; t < mv.tokens; ++t)
      selection_mismatches += (int)(((mv.hi_mask[t / 64] >> (t % 64)) & 1u) != high[t]);
  }
};

Config small_config() {
  Config c;
  c.streaming_gap = 8;
  c.unimportant_count = 3;
  c.seed = 42;
  return c;
}

TEST(ZipCache, ProbeRowsAreRecentPlusSeededRandom) {
  const std::vector<int32_t> r = probe_rows(100, 0.05, 0.05, 7, 3);
  ASSERT_EQ(r.size(), 10u);
  for (int i = 95; i < 100; ++i) EXPECT_TRUE(std::binary_search(r.begin(), r.end(), i));
  EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
  EXPECT_EQ(std::adjacent_find(r.begin(), r.end()), r.end());
  EXPECT_LT(r[4], 95);
  EXPECT_EQ(r, probe_rows(100, 0.05, 0.05, 7, 3));  // deterministic per (seed, layer)
  EXPECT_NE(r, probe_rows(100, 0.05, 0.05, 8, 3));
  EXPECT_NE(r, probe_rows(100, 0.05, 0.05, 7, 4));
  EXPECT_EQ(probe_rows(10, 0.05, 0.05, 1, 0), std::vector<int32_t>{9});  // at least the last row
  EXPECT_EQ(probe_rows(20, 0.5, 1.0, 1, 0).size(), 20u);                // random capped at the rest
}

TEST(ZipCache, SaliencyNormalizations) {
  // 2 stored tokens + 4 new, probe rows {1, 3} of the new tokens.
  const float col[6] = {2.0f, 1.0f, 0.5f, 0.8f, 0.3f, 0.6f};
  const std::vector<int32_t> rows = {1, 3};
  const auto paper = saliency(col, 2, 4, rows, Normalization::Paper);
  const std::vector<double> want_paper = {1.0, 0.5, 0.25, 0.4, 0.3, 0.6};  // counts 2, 2, 2, 2, 1, 1
  const auto refn = saliency(col, 2, 4, rows, Normalization::Reference);
  const std::vector<double> want_ref = {2.0 / 6, 1.0 / 5, 0.5 / 4, 0.8 / 3, 0.3 / 2, 0.6 / 1};
  const auto none = saliency(col, 2, 4, rows, Normalization::None);
  for (int j = 0; j < 6; ++j) {
    EXPECT_NEAR(paper[j], want_paper[j], 1e-7) << j;
    EXPECT_NEAR(refn[j], want_ref[j], 1e-7) << j;
    EXPECT_NEAR(none[j], col[j], 1e-7) << j;
  }
  EXPECT_EQ(lowest({0.3, 0.1, 0.2, 0.1}, 2), (std::vector<int32_t>{1, 3}));
}

TEST(ZipCache, PrefillAndStreamingMatchTheReference) {
  for (Normalization norm : {Normalization::Paper, Normalization::Reference, Normalization::None}) {
    Config c = small_config();
    c.normalization = norm;
    Driver d(c);
    d.call(90, rt::Phase::Prefill);
    for (int i = 0; i < 19; ++i) d.call(1, rt::Phase::Decode);  // two re-compressions (steps 8 and 16) + 3 buffered
    d.call(6, rt::Phase::Decode);                               // a chunk completing the third gap (3 + 6 >= 8)
    EXPECT_LE(d.worst, 5e-5) << (int)norm;
    EXPECT_EQ(d.selection_mismatches, 0) << (int)norm;
    EXPECT_EQ(d.cache->recompressions(), 3 * 2);  // per layer: 3, two layers
    EXPECT_EQ(d.cache->buffered(0, 0), 0);
  }
}

TEST(ZipCache, ExactSaliencyAndOtherBitWidths) {
  Config c = small_config();
  c.exact = true;
  c.bits_high = 8;
  c.bits_low = 4;
  c.saliency_ratio = 0.3;
  Driver d(c);
  d.call(70, rt::Phase::Prefill);
  for (int i = 0; i < 9; ++i) d.call(1, rt::Phase::Decode);
  EXPECT_LE(d.worst, 5e-5);
  EXPECT_EQ(d.selection_mismatches, 0);
  // Sensitivity: a cache with a different saliency ratio is not described by this reference.
  Config other = c;
  other.saliency_ratio = 0.7;
  Driver e(other);
  e.cfg = c;  // reference with ratio 0.3, cache with 0.7
  e.call(70, rt::Phase::Prefill);
  EXPECT_GT(e.selection_mismatches, 0);
}

TEST(ZipCache, BytesAndBuffer) {
  Driver d(small_config());
  d.call(100, rt::Phase::Prefill);
  // Per head: 60 high / 40 low tokens. Keys: one 64-token tile per class (4-bit 2048 B, 2-bit 1024 B) + per class
  // 64 channel scales and mins; values 60 x 32 B + 40 x 16 B codes, 4 B of stats per token; the shared normalizer
  // 64 x 2 B; the class bitmap 2 words.
  rt::KvBytes b = d.cache->bytes();
  EXPECT_EQ(b.payload, 4u * (2048 + 1024 + 60 * 32 + 40 * 16));
  EXPECT_EQ(b.scales, 4u * (128 + 128 + 100 * 2 + 128));
  EXPECT_EQ(b.zeros, 4u * (128 + 128 + 100 * 2));
  EXPECT_EQ(b.indices, 4u * 16);
  EXPECT_EQ(b.window, 0u);
  EXPECT_EQ(d.cache->mixed(1, 1).high_tokens(), 60);
  for (int i = 0; i < 5; ++i) d.call(1, rt::Phase::Decode);
  EXPECT_EQ(d.cache->buffered(0, 1), 5);
  EXPECT_EQ(d.cache->bytes().window, 4u * 5 * 2 * 128);
  EXPECT_EQ(d.cache->tokens(0, 1), 105);
  for (int i = 0; i < 3; ++i) d.call(1, rt::Phase::Decode);  // step 8: re-compression empties the buffer
  EXPECT_EQ(d.cache->buffered(0, 1), 0);
  EXPECT_EQ(d.cache->bytes().window, 0u);
  EXPECT_EQ(d.cache->mixed(0, 1).high_tokens(), 60 + 5);  // 3 of the 8 new tokens went low
  const nlohmann::json st = d.cache->stats();
  EXPECT_EQ(st["recompressions"], 2);
  EXPECT_EQ(st["prefill_compressions"], 2);
  EXPECT_NEAR(st["high_fraction"].get<double>(), 65.0 / 108.0, 1e-9);
  d.cache->reset();
  EXPECT_EQ(d.cache->bytes().total(), 0u);
}

TEST(ZipCache, RejectsInvalidCombinations) {
  auto pointer_of = [](const nlohmann::json& p) {
    try {
      method_params("zipcache", p);
    } catch (const InputError& e) {
      return e.pointer();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(pointer_of({{"bits_high", 2}, {"bits_low", 4}}), "/methods/0/params/bits_low");
  EXPECT_EQ(pointer_of({{"streaming_gap", 10}}), "/methods/0/params/unimportant_count");
  EXPECT_EQ(pointer_of({{"saliency", "exact"}, {"probe_random", 0.1}}), "/methods/0/params/probe_random");
  EXPECT_EQ(pointer_of({{"saliency", "exact"}, {"normalization", "reference"}}), "/methods/0/params/normalization");
  EXPECT_EQ(pointer_of({{"saliency", "exact"}, {"normalization", "none"}}), "accepted");
  EXPECT_EQ(pointer_of({{"bits_high", 4}, {"bits_low", 4}}), "accepted");
  EXPECT_THROW(method_params("zipcache", {{"saliency_ratio", 1.5}}), InputError);
  const TinyModel tm = tiny_model();
  EXPECT_THROW(make_cache("zipcache", {{"value_group", 128}}, tm.geometry()), InputError);
}

TEST(ZipCache, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "zipcache", nlohmann::json::object(), 2, 4);
  EXPECT_TRUE(r.finite);
  EXPECT_NEAR(r.stats["high_fraction"].get<double>(), 0.6, 0.01);
  EXPECT_GT(r.parts.window, 0u);  // the decode buffer
  EXPECT_GT(r.ratio, 3.0);
}

}  // namespace
}  // namespace bp::methods::zipcache
