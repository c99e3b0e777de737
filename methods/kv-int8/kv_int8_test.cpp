// kv-int8 against its definition: per (token, KV head) symmetric absmax INT8 with one FP16 scale, no window.
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "tests/common/kv/test_smoke.h"
#include "tests/common/kv/test_support.h"
#include "tests/common/test_env.h"

namespace bp::rt::kv {
namespace {

using namespace testing;

HeldFn per_token(int bits, bool sym, bool quantize = true) {
  return [=](const std::vector<float>& k, const std::vector<float>& v, int64_t T, std::vector<float>& sk,
             std::vector<float>& sv) {
    sk.resize(k.size());
    sv.resize(v.size());
    const int D = 64;
    for (int64_t t = 0; t < T; ++t) {
      if (!quantize) {
        for (int d = 0; d < D; ++d) sk[t * D + d] = f16(k[t * D + d]), sv[t * D + d] = f16(v[t * D + d]);
        continue;
      }
      ref_quant_group(k.data() + t * D, D, 1, bits, sym, sk.data() + t * D, 1);
      ref_quant_group(v.data() + t * D, D, 1, bits, sym, sv.data() + t * D, 1);
    }
  };
}

TEST(KvInt8, AttentionMatchesPerTokenSymmetricInt8) {
  const TinyModel tm = tiny_model();
  auto cache = make_cache("kv-int8", nlohmann::json::object(), tm.geometry());
  const std::vector<int> calls = {37, 1, 1, 30, 1, 5};
  EXPECT_LE(drive_and_compare(*cache, tm, calls, per_token(8, true)), 5e-5);
  // The same run against an unquantized (FP16) reference differs measurably: the test sees quantization.
  auto again = make_cache("kv-int8", nlohmann::json::object(), tm.geometry());
  EXPECT_GT(drive_and_compare(*again, tm, calls, per_token(8, true, false)), 5e-4);
}

TEST(KvInt8, BytesAreCodesPlusOneScalePerTokenHead) {
  const TinyModel tm = tiny_model();
  auto cache = make_cache("kv-int8", nlohmann::json::object(), tm.geometry());
  EXPECT_EQ(cache->bytes().total(), 0u);
  drive_and_compare(*cache, tm, {70, 1}, per_token(8, true));
  // 71 tokens per (layer, head), 2 layers x 2 KV heads: keys in 2 tiles of 64 tokens (128 x 64 code bytes + 128
  // FP16 scales), values 71 x (64 + 2).
  const KvBytes b = cache->bytes();
  EXPECT_EQ(b.payload, 4u * (128 * 64 + 71 * 64));
  EXPECT_EQ(b.scales, 4u * (128 * 2 + 71 * 2));
  EXPECT_EQ(b.zeros + b.window + b.indices, 0u);
  EXPECT_EQ(cache->tokens(1, 1), 71);
  cache->reset();
  EXPECT_EQ(cache->bytes().total(), 0u);
}

TEST(KvInt8, HasNoParameters) {
  EXPECT_THROW(method_params("kv-int8", {{"bits", 4}}), InputError);
}

TEST(KvInt8, SmokeOnDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  const SmokeResult r = smoke(path, "kv-int8", nlohmann::json::object());
  EXPECT_TRUE(r.finite);
  // SmolLM2-135M: 30 layers x 3 KV heads x 2 sides x (64 + 2) B per token = 11,880 B vs 23,040 B (1.94x), less
  // the key tile padding of a length that is not a multiple of 64.
  EXPECT_GT(r.ratio, 1.85);
  EXPECT_LE(r.ratio, 23040.0 / 11880.0 + 1e-9);
  EXPECT_GE(r.agree, r.steps - 1) << "INT8 KV should keep the greedy choice";
}

}  // namespace
}  // namespace bp::rt::kv
