// kivi against its definition (methods.md §7, KIVI's llama_kivi.py): after T tokens a head holds keys [0, T - T%R)
// quantized per channel in groups of G tokens and the last T%R keys in FP16; values [0, T - R) quantized per token
// in groups of G channels and the last min(T, R) values in FP16. Everything passes through FP16 first.
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

HeldFn kivi_ref(int bits, int G, int R) {
  return [=](const std::vector<float>& k, const std::vector<float>& v, int64_t T, std::vector<float>& sk,
             std::vector<float>& sv) {
    sk.resize(k.size());
    sv.resize(v.size());
    std::vector<float> kh(k.size()), vh(v.size());
    for (size_t i = 0; i < k.size(); ++i) sk[i] = kh[i] = f16(k[i]), sv[i] = vh[i] = f16(v[i]);
    const int64_t pk = T - T % R, pv = std::max<int64_t>(0, T - R);
    for (int64_t g = 0; g < pk; g += G)
      for (int d = 0; d < D; ++d) ref_quant_group(kh.data() + g * D + d, G, D, bits, false, sk.data() + g * D + d, D);
    for (int64_t t = 0; t < pv; ++t)
      for (int g0 = 0; g0 < D; g0 += G)
        ref_quant_group(vh.data() + t * D + g0, G, 1, bits, false, sv.data() + t * D + g0, 1);
  };
}

TEST(Kivi, AttentionMatchesDefinitionAcrossResidualBoundaries) {
  const TinyModel tm = tiny_model();
  std::vector<int> calls = {100};                // prefill: keys 64 quantized + 36 FP16, values 36 + 64 FP16
  for (int i = 0; i < 30; ++i) calls.push_back(1);  // T = 128 completes the second key block
  calls.push_back(5);                            // a chunk of 5 (chunked scoring)
  for (int bits : {2, 4}) {
    auto cache = make_cache("kivi", {{"bits", bits}, {"group", 32}, {"residual", 64}}, tm.geometry());
    EXPECT_LE(drive_and_compare(*cache, tm, calls, kivi_ref(bits, 32, 64)), 5e-5) << bits << " bits";
  }
  // Sensitivity: a reference that quantizes keys token by token at once (no residual) does not describe KIVI.
  auto cache = make_cache("kivi", {{"bits", 2}, {"group", 32}, {"residual", 64}}, tm.geometry());
  EXPECT_GT(drive_and_compare(*cache, tm, calls, kivi_ref(2, 32, 32)), 1e-3);
}

TEST(Kivi, ShortPromptStaysFullPrecision) {
  const TinyModel tm = tiny_model();
  auto cache = make_cache("kivi", nlohmann::json::object(), tm.geometry());  // defaults: 2 bit, G 32, R 128
  EXPECT_LE(drive_and_compare(*cache, tm, {127, 1}, kivi_ref(2, 32, 128)), 5e-5);
  // 128 tokens: the keys' first block is quantized, all 128 values stay FP16.
  const auto* s = dynamic_cast<const SplitKvCache*>(cache.get());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->at(0, 0).keys().packed(), 128);
  EXPECT_EQ(s->at(0, 0).values().packed(), 0);
  EXPECT_EQ(cache->bytes().window, 4u * 128 * 128);
}

TEST(Kivi, WindowAndBytesAtBoundaries) {
  const TinyModel tm = tiny_model();
  auto cache = make_cache("kivi", {{"bits", 2}, {"group", 32}, {"residual", 64}}, tm.geometry());
  const auto* s = dynamic_cast<const SplitKvCache*>(cache.get());
  auto ref = kivi_ref(2, 32, 64);
  drive_and_compare(*cache, tm, {100}, ref);
  EXPECT_EQ(s->at(1, 0).keys().packed(), 64);
  EXPECT_EQ(s->at(1, 0).keys().fp16(), 36);
  EXPECT_EQ(s->at(1, 0).values().packed(), 36);
  EXPECT_EQ(s->at(1, 0).values().fp16(), 64);
  // Per head: keys 64 tokens = 1 tile of 2-bit codes (64·64/4 = 1024 B) + 2 groups x 64 channels x (2 + 2) B;
  // values 36 rows x 16 B + 36 x 2 groups x (2 + 2) B; FP16 rows (36 + 64) x 128 B.
  KvBytes b = cache->bytes();
  EXPECT_EQ(b.payload, 4u * (1024 + 36 * 16));
  EXPECT_EQ(b.scales, 4u * (2 * 64 * 2 + 36 * 2 * 2));
  EXPECT_EQ(b.zeros, b.scales);
  EXPECT_EQ(b.window, 4u * (36 + 64) * 128);
  // 27 more steps: T = 127, key residual 63; one more: T = 128 quantizes the block, residual empty.
  cache->reset();
  std::vector<int> calls = {100};
  for (int i = 0; i < 27; ++i) calls.push_back(1);
  drive_and_compare(*cache, tm, calls, ref);
  EXPECT_EQ(s->at(0, 1).keys().fp16(), 63);
  EXPECT_EQ(s->at(0, 1).values().packed(), 63);
  calls.push_back(1);
  cache->reset();
  drive_and_compare(*cache, tm, calls, ref);
  EXPECT_EQ(s->at(0, 1).keys().fp16(), 0);
  EXPECT_EQ(s->at(0, 1).keys().packed(), 128);
  EXPECT_EQ(s->at(0, 1).values().fp16(), 64);
}

TEST(Kivi, RejectsInvalidCombinations) {
  try {
    method_params("kivi", {{"group", 64}, {"residual", 96}});
    FAIL() << "residual 96 is not a multiple of group 64";
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/methods/0/params/residual");
  }
  EXPECT_THROW(method_params("kivi", {{"residual", 16}}), InputError);  // below the minimum
  EXPECT_THROW(method_params("kivi", {{"bits", 3}}), InputError);
  const TinyModel tm = tiny_model();
  EXPECT_THROW(make_cache("kivi", {{"group", 128}}, tm.geometry()), InputError);  // value groups > head_dim
}

TEST(Kivi, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "kivi", {{"residual", 32}}, 2, 4);
  EXPECT_TRUE(r.finite);
  EXPECT_GT(r.parts.window, 0u);
  EXPECT_GT(r.ratio, 1.5);
}

}  // namespace
}  // namespace bp::rt::kv
