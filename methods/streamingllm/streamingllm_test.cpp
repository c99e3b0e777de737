// streamingllm against a slow reference written from the definition (double precision): the cache holds the first
// `sinks` tokens and the last `window` tokens; stored keys are pre-RoPE and attention rotates them (in double here)
// at their in-cache positions 0..T-1, with the call's new tokens at T, T+1, ...
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "harness/common/error.h"
#include "tests/common/kv/test_eviction.h"
#include "tests/common/kv/test_smoke.h"
#include "methods/streamingllm/streaming_cache.h"
#include "tests/common/test_env.h"

namespace bp::methods::streamingllm {
namespace {

using namespace rt::kv::testing;
using rt::Phase;
using rt::kv::TokenFormat;

struct RefTok {
  int arrival;
  std::vector<float> hk, hv;  // held PRE-RoPE key and value (FP16 / dequantized)
  std::vector<float> v;       // exact value (identifies the token)
};

struct Worst {
  double in_cache = 0;  // vs the reference with in-cache positions
  double absolute = 0;  // vs a reference that (wrongly, for StreamingLLM) rotates at absolute positions
};

// Runs the calls on every layer; after each call checks outputs and which tokens every store holds.
Worst drive_streaming(rt::KvCache& cache, const TinyModel& tm, const std::vector<int>& calls, int prefill_calls,
                      int sinks, int window, const TokenFormat& fmt, uint32_t seed) {
  const rt::KvGeometry g = tm.geometry();
  const int L = g.n_layers, Hq = g.n_q_heads, Hkv = g.n_kv_heads, D = g.head_dim;
  const auto& sc = dynamic_cast<const rt::kv::TokenStoreCache&>(cache);
  std::mt19937 rng(seed);
  std::vector<std::vector<RefTok>> held((size_t)L * Hkv);
  std::vector<std::vector<int>> abs_pos((size_t)L);  // absolute position of each held token (for the foil)
  Worst w;
  int64_t pos = 0;
  for (size_t c = 0; c < calls.size(); ++c) {
    const int n = calls[c];
    for (int layer = 0; layer < L; ++layer) {
      Batch b = random_batch(g, pos, n, rng);
      run(cache, layer, (int)c < prefill_calls ? Phase::Prefill : Phase::Decode, b);
      const int T = (int)held[(size_t)layer * Hkv].size();
      for (const bool in_cache : {true, false}) {
        // Query and new-key positions: in-cache T + i, or absolute.
        std::vector<int32_t> qp((size_t)n);
        for (int i = 0; i < n; ++i) qp[(size_t)i] = in_cache ? T + i : b.pos[(size_t)i];
        const std::vector<float> q_rot = rotated(*tm.rope, b.q, n, Hq, D, qp);
        const std::vector<float> k_rot = rotated(*tm.rope, b.k, n, Hkv, D, qp);
        std::vector<std::vector<std::vector<double>>> keys((size_t)Hkv), vals((size_t)Hkv);
        for (int h = 0; h < Hkv; ++h) {
          const std::vector<RefTok>& H = held[(size_t)layer * Hkv + h];
          for (int t = 0; t < T; ++t) {
            // Held tokens in time order: in-cache position t.
            const int p = in_cache ? t : abs_pos[(size_t)layer][(size_t)t];
            keys[(size_t)h].push_back(rope_double(H[(size_t)t].hk, *tm.rope, p));
            vals[(size_t)h].emplace_back(H[(size_t)t].hv.begin(), H[(size_t)t].hv.end());
          }
        }
        const RefAttention R =
            ref_attention(g, q_rot, n, keys, vals, std::vector<double>(k_rot.begin(), k_rot.end()), b.v);
        double& slot = in_cache ? w.in_cache : w.absolute;
        slot = std::max(slot, max_abs_diff(b.out, R.out));
      }
      // Store, then cut to the first `sinks` arrivals + the last `window` others.
      for (int h = 0; h < Hkv; ++h) {
        std::vector<RefTok>& H = held[(size_t)layer * Hkv + h];
        for (int i = 0; i < n; ++i) {
          const float* k = b.k.data() + ((size_t)i * Hkv + h) * D;  // pre-RoPE
          const float* v = b.v.data() + ((size_t)i * Hkv + h) * D;
          H.push_back({(int)(pos + i), held_row(k, D, fmt), held_row(v, D, fmt), std::vector<float>(v, v + D)});
        }
        std::vector<RefTok> kept;
        int others = 0;
        for (const RefTok& t : H) others += t.arrival >= sinks;
        int seen_other = 0;
        for (const RefTok& t : H) {
          if (t.arrival < sinks) kept.push_back(t);
          else if (seen_other++ >= others - window) kept.push_back(t);
        }
        H.swap(kept);
        std::vector<std::vector<float>> hist;
        std::vector<int> want;
        for (const RefTok& t : H) hist.push_back(t.v), want.push_back(t.arrival);
        EXPECT_TRUE(holds_exactly(sc.store_at(layer, h), hist, want, fmt.packed() ? 1.0 : 0.02))
            << "call " << c << " layer " << layer << " head " << h;
      }
      abs_pos[(size_t)layer].clear();
      for (const RefTok& t : held[(size_t)layer * Hkv]) abs_pos[(size_t)layer].push_back(t.arrival);
    }
    pos += n;
  }
  return w;
}

TEST(StreamingLlm, SinksAndWindowAtInCachePositions) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  auto cache = make_cache("streamingllm", {{"sinks", 2}, {"window", 5}}, tm.geometry(2));
  // Prefill longer than sinks + window (full attention, then cut), decode steps, a decode call longer than the
  // window, more steps.
  const Worst w = drive_streaming(*cache, tm, {12, 1, 1, 1, 8, 1, 2}, 1, 2, 5, TokenFormat::fp16(), 4);
  EXPECT_LE(w.in_cache, 1e-4);
  // Absolute positions give other scores for the sinks once tokens were dropped: the test sees the positions.
  EXPECT_GT(w.absolute, 1e-2);
  EXPECT_EQ(cache->tokens(1, 1), 7);
}

TEST(StreamingLlm, ShortChunksFillSinksFirst) {
  const TinyModel tm = tiny_model(1, 6, 2, 64);
  auto cache = make_cache("streamingllm", {{"sinks", 4}, {"window", 3}}, tm.geometry());
  const Worst w = drive_streaming(*cache, tm, {2, 3, 1, 1, 1, 1, 1, 3, 1}, 2, 4, 3, TokenFormat::fp16(), 9);
  EXPECT_LE(w.in_cache, 1e-4);
  EXPECT_EQ(cache->tokens(0, 0), 7);
}

TEST(StreamingLlm, NoSinksIsASlidingWindow) {
  const TinyModel tm = tiny_model(1, 4, 2, 64);
  auto cache = make_cache("streamingllm", {{"sinks", 0}, {"window", 6}}, tm.geometry());
  const Worst w = drive_streaming(*cache, tm, {10, 1, 1, 4, 1}, 1, 0, 6, TokenFormat::fp16(), 2);
  EXPECT_LE(w.in_cache, 1e-4);
  // Without sinks the held tokens are contiguous: in-cache and absolute positions give the same distances.
  EXPECT_LE(w.absolute, 1e-4);
}

TEST(StreamingLlm, LongPrefillWithModelRopeTheta) {
  // SmolLM2's rope_theta (100000), a prompt much longer than the window, then decode steps over the cut cache.
  TinyModel tm = tiny_model(1, 3, 1, 64);
  tm.cfg.rope_theta = 100000.0f;
  tm.rope = std::make_unique<rt::Rope>(tm.cfg);
  auto cache = make_cache("streamingllm", {{"sinks", 0}, {"window", 300}}, tm.geometry(2));
  const Worst w = drive_streaming(*cache, tm, {700, 1, 1, 1}, 1, 0, 300, TokenFormat::fp16(), 2);
  EXPECT_LE(w.in_cache, 1e-4);
  EXPECT_LE(w.absolute, 1e-4);
}

TEST(StreamingLlm, QuantizedStorageQuantizesPreRopeKeys) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  const TokenFormat fmt = TokenFormat::quantized(4, 32, false);
  auto cache = make_cache("streamingllm", {{"sinks", 3}, {"window", 6}, {"storage", "int4"}}, tm.geometry());
  EXPECT_LE(drive_streaming(*cache, tm, {15, 1, 1, 2, 1}, 1, 3, 6, fmt, 6).in_cache, 2e-4);
}

// score_stored (the observation path) must rotate stored keys exactly as attend_stored does: with one query head
// per KV head, the observed probabilities of each row, applied to the held values, give that row's output.
class ObservedStreaming : public StreamingCache {
 public:
  using StreamingCache::StreamingCache;
  std::vector<std::vector<float>> probs, values;  // per KV head: [rows][stored + n], stored values [stored][D]
 protected:
  rt::ObserveRequest observe(const rt::AttnBatch&) const override {
    rt::ObserveRequest r;
    r.mode = rt::ObserveRequest::Mode::Rows;
    return r;
  }
  void on_attention(const rt::Observation& o) override {
    probs[(size_t)o.kv_head].assign(o.data, o.data + o.rows->size() * (o.stored + o.n_new));
    const rt::kv::TokenStore& st = store_at(o.layer, o.kv_head);
    values[(size_t)o.kv_head].assign((size_t)st.size() * st.head_dim(), 0.0f);
    if (st.size()) st.read(0, st.size(), nullptr, values[(size_t)o.kv_head].data(), st.head_dim());
  }
};

TEST(StreamingLlm, ObservedScoresUseInCachePositions) {
  const TinyModel tm = tiny_model(1, 2, 2, 64);  // one query head per KV head
  const rt::KvGeometry g = tm.geometry();
  Config c;
  c.sinks = 2;
  c.window = 5;
  ObservedStreaming cache(g, TokenFormat::fp16(), c);
  cache.probs.resize(2);
  cache.values.resize(2);
  std::mt19937 rng(3);
  int64_t pos = 0;
  for (const int n : {12, 1, 1, 3}) {
    Batch b = random_batch(g, pos, n, rng);
    run(cache, 0, pos == 0 ? Phase::Prefill : Phase::Decode, b);
    for (int h = 0; h < 2; ++h) {
      const int64_t S = (int64_t)cache.values[(size_t)h].size() / 64, W = S + n;
      for (int i = 0; i < n; ++i) {
        double worst = 0;
        for (int d = 0; d < 64; ++d) {
          double o = 0;
          for (int64_t j = 0; j < W; ++j) {
            const double v = j < S ? cache.values[(size_t)h][(size_t)(j * 64 + d)]
                                   : b.v[((size_t)(j - S) * 2 + h) * 64 + d];
            o += cache.probs[(size_t)h][(size_t)(i * W + j)] * v;
          }
          worst = std::max(worst, std::fabs(o - b.out[((size_t)i * 2 + h) * 64 + d]));
        }
        EXPECT_LE(worst, 1e-4) << "call at " << pos << " row " << i << " head " << h;
      }
    }
    pos += n;
  }
  EXPECT_EQ(cache.position_of_slot(0, 0), 0);
  EXPECT_EQ(cache.tokens(0, 0), 7);
}

TEST(StreamingLlm, BytesAreTheHeldTokens) {
  const TinyModel tm = tiny_model(2, 4, 2, 64);
  auto fill = [&](rt::KvCache& c) {
    std::mt19937 rng(1);
    for (int layer = 0; layer < 2; ++layer) {
      Batch b = random_batch(tm.geometry(), 0, 100, rng);
      run(c, layer, Phase::Prefill, b);
    }
    for (int layer = 0; layer < 2; ++layer) {
      Batch b = random_batch(tm.geometry(), 100, 1, rng);
      run(c, layer, Phase::Decode, b);
    }
  };
  auto fp = make_cache("streamingllm", {{"sinks", 4}, {"window", 20}}, tm.geometry());
  fill(*fp);
  // 24 tokens per (layer, KV head), 4 of them, FP16 K+V: 24·64·2·2; nothing else.
  EXPECT_EQ(fp->bytes().payload, 4u * 24 * 256);
  EXPECT_EQ(fp->bytes().total(), fp->bytes().payload);
  auto q8 = make_cache("streamingllm", {{"sinks", 4}, {"window", 20}, {"storage", "int8"}, {"storage_group", 0},
                                        {"storage_symmetric", true}}, tm.geometry());
  fill(*q8);
  // int8 symmetric, one scale per token-head: keys in one 64-token tile (64·64 codes + 64 scales), values 24 rows.
  EXPECT_EQ(q8->bytes().payload, 4u * (64 * 64 + 24 * 64));
  EXPECT_EQ(q8->bytes().scales, 4u * (64 * 2 + 24 * 2));
  EXPECT_EQ(q8->bytes().zeros, 0u);
  EXPECT_EQ(q8->stats()["evicted_tokens"], 77);
}

TEST(StreamingLlm, RejectsInvalidParameters) {
  EXPECT_NO_THROW(method_params("streamingllm", nlohmann::json::object()));
  EXPECT_EQ(method_params("streamingllm", nlohmann::json::object()).get_int("window"), 1020);
  EXPECT_THROW(method_params("streamingllm", {{"window", 0}}), InputError);
  EXPECT_THROW(method_params("streamingllm", {{"sinks", -1}}), InputError);
  EXPECT_THROW(method_params("streamingllm", {{"storage_symmetric", true}}), InputError);  // fp16 storage
  EXPECT_THROW(method_params("streamingllm", {{"recent", 100}}), InputError);
  const rt::kv::testing::TinyModel tm = tiny_model(1, 4, 2, 64);
  EXPECT_THROW(make_cache("streamingllm", {{"storage", "int4"}, {"storage_group", 128}}, tm.geometry()), InputError);
}

TEST(StreamingLlm, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "streamingllm", {{"window", 60}});
  EXPECT_TRUE(r.finite);
  const int64_t total = (int64_t)(r.fp16_bytes / 23040);
  EXPECT_EQ(r.tokens, 64);
  EXPECT_EQ(r.bytes, (size_t)90 * 64 * 256);
  EXPECT_NEAR(r.ratio, (double)total / 64.0, 1e-9);
  std::printf("streamingllm smoke: %lld tokens, kept 64, ratio %.2fx, greedy agreement %d/%d\n", (long long)total,
              r.ratio, r.agree, r.steps);
  EXPECT_GE(r.agree, r.steps / 2) << "sinks + a 60-token window should mostly keep fp16's choice on repeated text";
}

// The bookkeeping the CPU and the CUDA cache share (streaming_plan.h), against a list model of the definition: over
// calls of many sizes, applying plan_store to a slot array leaves the first `sinks` tokens and the last `window`
// others, and held_runs lists the slots in time order at in-cache positions 0..T-1.
TEST(StreamingLlm, PlanKeepsSinksAndWindowInTimeOrder) {
  for (int64_t S : {0, 1, 4})
    for (int64_t W : {1, 5, 16}) {
      std::vector<int> slots;  // token id per slot
      std::vector<int> arrived;
      int64_t head = 0, evicted = 0;
      int next = 0;
      for (int n : {1, 3, 1, 40, 2, 1, 1, 17, 5, 1, 64, 1}) {
        const StorePlan p = plan_store((int64_t)slots.size(), n, S, W);
        std::vector<int> ids(n);
        for (int i = 0; i < n; ++i) ids[i] = next++;
        arrived.insert(arrived.end(), ids.begin(), ids.end());
        for (int64_t i = 0; i < p.n_sink; ++i) slots.push_back(ids[i]);
        for (int64_t i = 0; i < p.append; ++i) slots.push_back(ids[p.first + i]);
        for (int64_t i = p.first + p.append; i < n; ++i) {
          slots[S + head] = ids[i];
          head = (head + 1) % W;
        }
        evicted += p.evicted;
        // Expected: the first min(S, total) tokens, then the last W of the others, in time order.
        std::vector<int> want(arrived.begin(), arrived.begin() + std::min<int64_t>(S, (int64_t)arrived.size()));
        const int64_t rest = (int64_t)arrived.size() - (int64_t)want.size();
        want.insert(want.end(), arrived.end() - std::min(rest, W), arrived.end());
        std::vector<int> got((size_t)slots.size(), -1);
        for (const SlotRun& r : held_runs((int64_t)slots.size(), S, head))
          for (int64_t j = 0; j < r.len; ++j) got[(size_t)(r.pos + j)] = slots[(size_t)(r.slot + j)];
        ASSERT_EQ(got, want) << "S " << S << " W " << W << " after " << arrived.size() << " tokens";
        ASSERT_EQ(evicted, (int64_t)arrived.size() - (int64_t)slots.size());
      }
    }
}

}  // namespace
}  // namespace bp::methods::streamingllm
