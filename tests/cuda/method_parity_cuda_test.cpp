// Every KV method that has a CUDA cache, run end to end on both backends (through SessionFactory, as the runner
// does) on the default model, in the manner of llama.cpp's test-backend-ops: the same prompt prefilled in one call,
// then greedy decode steps fed the CPU's tokens, compared logit by logit; the caches must report the same bytes and
// the same split of packed/FP16 tokens. The methods are taken from the registry, so a method that gains a device
// cache is checked here without an edit. Skips when no GPU is present (or the model is not cached).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/core/registry.h"
#include "harness/core/session_factory.h"
#include "harness/runtime/model.h"
#include "tests/common/test_env.h"

namespace bp {
namespace {

// Parameter sets per method beyond its defaults: those that take another device code path.
std::vector<nlohmann::json> param_sets(const std::string& method) {
  std::vector<nlohmann::json> sets{nlohmann::json::object()};
  if (method == "kv-uniform") {
    sets.push_back({{"bits", 2}, {"group", 32}});
    sets.push_back({{"bits", 8}, {"symmetric", true}});
    sets.push_back({{"axis", "channel"}, {"group", 32}, {"bits", 4}});
  }
  if (method == "kivi") {
    sets.push_back({{"bits", 4}, {"group", 32}, {"residual", 64}});
    sets.push_back({{"bits", 2}, {"group", 64}, {"residual", 128}});
  }
  if (method == "streamingllm") {  // windows the prompt overflows, so eviction and the ring wrap are exercised
    sets.push_back({{"sinks", 4}, {"window", 60}});
    sets.push_back({{"sinks", 0}, {"window", 100}});
  }
  if (method == "h2o") {  // budgets the prompt overflows: eviction at prefill and at every decode step
    sets.push_back({{"budget", "tokens"}, {"heavy_tokens", 40}, {"recent_tokens", 24}});
  }
  if (method == "snapkv") {
    sets.push_back({{"budget", "tokens"}, {"capacity", 96}, {"window", 16}, {"kernel", 7}, {"pooling", "maxpool"}});
  }
  if (method == "zipcache") {  // decode-phase re-compressions within the decoded steps; exact saliency
    sets.push_back({{"streaming_gap", 16}, {"unimportant_count", 6}});
    sets.push_back({{"saliency", "exact"}, {"bits_high", 8}, {"bits_low", 4}});
  }
  return sets;
}

int argmax(const float* x, int n) { return (int)(std::max_element(x, x + n) - x); }

TEST(CudaMethods, EveryDeviceCacheMatchesItsCpuCache) {
  std::string why;
  if (!rt::device_available(rt::Device::Cuda, &why)) GTEST_SKIP() << why;
  BENCH_REQUIRE_MODEL(path);
  auto model = rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F16, 2});
  // Long enough that KIVI's residual blocks and per-channel groups flush during prefill and during decode.
  std::string text;
  for (int i = 0; i < 12; ++i) text += "The harbour master logged ship " + std::to_string(i * 37) + " at dawn. ";
  const std::vector<int32_t> prompt = model->tokenizer().encode(text, true, false);
  const int V = model->config().vocab_size, steps = 40;
  ASSERT_GT(prompt.size(), 150u);
  SessionFactory cpu(rt::Device::Cpu, 2, 1), gpu(rt::Device::Cuda, 2, 1);
  int checked = 0;
  for (const MethodInfo* mi : MethodRegistry::all()) {
    if (!mi->make_device_kv_cache || !mi->make_kv_cache) continue;
    for (const nlohmann::json& raw : param_sets(mi->name)) {
      SCOPED_TRACE(mi->name + " " + raw.dump());
      const Params params(mi->schema.canonicalize(raw, "", ""));
      auto c = cpu.make(*model, *mi, params);
      auto g = gpu.make(*model, *mi, params);
      const float* lc = c->prefill(prompt, rt::Logits::Last);
      std::vector<float> ref(lc, lc + V);
      const float* lg = g->prefill(prompt, rt::Logits::Last);
      float worst = 0.0f;
      for (int v = 0; v < V; ++v) worst = std::max(worst, std::fabs(ref[v] - lg[v]));
      int agree = argmax(ref.data(), V) == argmax(lg, V);
      for (int s = 0; s < steps; ++s) {
        const int32_t next = argmax(ref.data(), V);
        const float* dc = c->decode(std::span<const int32_t>(&next, 1), rt::Logits::Last);
        ref.assign(dc, dc + V);
        const float* dg = g->decode(std::span<const int32_t>(&next, 1), rt::Logits::Last);
        for (int v = 0; v < V; ++v) worst = std::max(worst, std::fabs(ref[v] - dg[v]));
        agree += argmax(ref.data(), V) == argmax(dg, V);
      }
      // FP16 activations into cuBLAS on the device vs F32 on the CPU: a rounding difference can move a value across
      // a quantization step (or swap two nearly equal eviction scores), so the bound is looser than the fp16
      // cache's; argmax nearly always equal.
      EXPECT_LT(worst, 1.0f);
      EXPECT_GE(agree, steps - 2);
      EXPECT_EQ(g->kv_bytes().total(), c->kv_bytes().total());
      EXPECT_EQ(g->kv_bytes().window, c->kv_bytes().window);
      if (!c->kv_stats().empty() && !g->kv_stats().empty()) {
        EXPECT_EQ(g->kv_stats(), c->kv_stats());
      }
      ++checked;
    }
  }
  // fp16, kv-int8, kv-uniform ×4, kivi ×3, streamingllm ×3, h2o ×2, snapkv ×2, zipcache ×3
  EXPECT_GE(checked, 19);
}

}  // namespace
}  // namespace bp
