// kv-uniform against its definition: per-token groups of channels (quantized on arrival) and per-channel groups of
// tokens (complete groups quantized from their FP16 buffer, the incomplete group FP16 and counted as window).
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/runtime/kv/split_kv_cache.h"
#include "tests/common/kv/test_smoke.h"
#include "tests/common/kv/test_support.h"
#include "tests/common/test_env.h"

namespace bp::rt::kv {
namespace {

using namespace testing;
constexpr int D = 64;

HeldFn per_token(int bits, int group, bool sym) {
  return [=](const std::vector<float>& k, const std::vector<float>& v, int64_t T, std::vector<float>& sk,
             std::vector<float>& sv) {
    const int G = group ? group : D;
    sk.resize(k.size());
    sv.resize(v.size());
    for (int64_t t = 0; t < T; ++t)
      for (int g0 = 0; g0 < D; g0 += G) {
        ref_quant_group(k.data() + t * D + g0, G, 1, bits, sym, sk.data() + t * D + g0, 1);
        ref_quant_group(v.data() + t * D + g0, G, 1, bits, sym, sv.data() + t * D + g0, 1);
      }
  };
}

// Complete groups of G tokens quantized per channel from FP16-rounded values; the rest FP16.
HeldFn per_channel(int bits, int G, bool sym) {
  return [=](const std::vector<float>& k, const std::vector<float>& v, int64_t T, std::vector<float>& sk,
             std::vector<float>& sv) {
    sk.resize(k.size());
    sv.resize(v.size());
    std::vector<float> kh(k.size()), vh(v.size());
    for (size_t i = 0; i < k.size(); ++i) sk[i] = kh[i] = f16(k[i]), sv[i] = vh[i] = f16(v[i]);
    for (int64_t g = 0; g + G <= T; g += G)
      for (int d = 0; d < D; ++d) {
        ref_quant_group(kh.data() + g * D + d, G, D, bits, sym, sk.data() + g * D + d, D);
        ref_quant_group(vh.data() + g * D + d, G, D, bits, sym, sv.data() + g * D + d, D);
      }
  };
}

const std::vector<int> kCalls = {37, 1, 1, 30, 1, 5, 1};

TEST(KvUniform, PerTokenMatchesDefinition) {
  const TinyModel tm = tiny_model();
  struct Case { int bits, group; bool sym; };
  for (const Case c : {Case{8, 0, false}, Case{4, 32, false}, Case{4, 0, true}, Case{2, 32, false}, Case{2, 64, true}}) {
    auto cache = make_cache("kv-uniform", {{"bits", c.bits}, {"group", c.group}, {"symmetric", c.sym}}, tm.geometry());
    EXPECT_LE(drive_and_compare(*cache, tm, kCalls, per_token(c.bits, c.group, c.sym)), 5e-5)
        << c.bits << " bits, group " << c.group << (c.sym ? " sym" : " asym");
  }
}

TEST(KvUniform, PerChannelMatchesDefinition) {
  const TinyModel tm = tiny_model();
  struct Case { int bits, group; bool sym; };
  for (const Case c : {Case{4, 32, false}, Case{2, 32, false}, Case{8, 64, true}}) {
    auto cache = make_cache("kv-uniform", {{"bits", c.bits}, {"axis", "channel"}, {"group", c.group}, {"symmetric", c.sym}},
                            tm.geometry());
    EXPECT_LE(drive_and_compare(*cache, tm, kCalls, per_channel(c.bits, c.group, c.sym)), 5e-5)
        << c.bits << " bits, group " << c.group;
    // Sensitivity: the per-token reference does not describe this cache.
    auto again = make_cache("kv-uniform", {{"bits", c.bits}, {"axis", "channel"}, {"group", c.group}, {"symmetric", c.sym}},
                            tm.geometry());
    EXPECT_GT(drive_and_compare(*again, tm, kCalls, per_token(c.bits, 0, c.sym)), 1e-3);
  }
}

TEST(KvUniform, PerChannelWindowAtGroupBoundaries) {
  const TinyModel tm = tiny_model();
  auto cache = make_cache("kv-uniform", {{"bits", 4}, {"axis", "channel"}, {"group", 32}}, tm.geometry());
  const auto* split = dynamic_cast<const SplitKvCache*>(cache.get());
  ASSERT_NE(split, nullptr);
  auto held = per_channel(4, 32, false);
  // 31 tokens: nothing quantized, all FP16.
  drive_and_compare(*cache, tm, {31}, held);
  EXPECT_EQ(split->at(0, 0).keys().packed(), 0);
  EXPECT_EQ(cache->bytes().window, 4u * 31 * 2 * 128);
  EXPECT_EQ(cache->bytes().payload, 0u);
  cache->reset();
  // 31 + 1: the first group completes and is quantized; the window empties.
  drive_and_compare(*cache, tm, {31, 1}, held);
  EXPECT_EQ(split->at(1, 1).keys().packed(), 32);
  EXPECT_EQ(split->at(1, 1).values().packed(), 32);
  EXPECT_EQ(cache->bytes().window, 0u);
  // Bytes for 32 tokens per head: keys one 64-token tile of 4-bit codes (2048 B) + 64 channels x (scale + min);
  // values 32 rows x 32 B + 64 x (2 + 2) B.
  const KvBytes b = cache->bytes();
  EXPECT_EQ(b.payload, 4u * (2048 + 32 * 32));
  EXPECT_EQ(b.scales, 4u * (64 * 2 + 64 * 2));
  EXPECT_EQ(b.zeros, b.scales);
  cache->reset();
  // 33: one group quantized, one token FP16.
  drive_and_compare(*cache, tm, {33}, held);
  EXPECT_EQ(cache->bytes().window, 4u * 1 * 2 * 128);
}

TEST(KvUniform, RejectsInvalidCombinations) {
  EXPECT_THROW(method_params("kv-uniform", {{"axis", "channel"}}), InputError);  // group 0 with per-channel
  try {
    method_params("kv-uniform", {{"axis", "channel"}, {"group", 0}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/methods/0/params/group");
  }
  EXPECT_THROW(method_params("kv-uniform", {{"bits", 3}}), InputError);
  EXPECT_THROW(method_params("kv-uniform", {{"group", 48}}), InputError);
  // group 128 does not divide head_dim 64: rejected when the cache is made.
  const TinyModel tm = tiny_model();
  EXPECT_THROW(make_cache("kv-uniform", {{"group", 128}}, tm.geometry()), InputError);
  EXPECT_NO_THROW(make_cache("kv-uniform", {{"axis", "channel"}, {"group", 128}}, tm.geometry()));
}

TEST(KvUniform, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r4 = smoke(path, "kv-uniform", {{"bits", 4}}, 2, 4);
  EXPECT_TRUE(r4.finite);
  // 4-bit asymmetric per token-head: 2 x (32 + 4) B = 72 B vs 256 B (3.56x), less key tile padding.
  EXPECT_GT(r4.ratio, 3.2);
  EXPECT_LE(r4.ratio, 256.0 / 72.0 + 1e-9);
  EXPECT_GE(r4.agree, r4.steps - 2);
  const SmokeResult rc = smoke(path, "kv-uniform", {{"bits", 2}, {"axis", "channel"}, {"group", 32}}, 2, 4);
  EXPECT_TRUE(rc.finite);
  EXPECT_GT(rc.parts.window, 0u);
  EXPECT_GT(rc.ratio, 2.0);
}

}  // namespace
}  // namespace bp::rt::kv
