// Every KV method that has a CUDA cache against its CPU cache, in the manner of llama.cpp's test-backend-ops. The
// methods come from the registry, so a method that gains a device cache is checked here without an edit.
//  1. Cache level: both caches get the SAME queries, keys and values (random, the model's geometry and RoPE) over a
//     prefill and decode steps in two layers; outputs must agree to float rounding, and tokens held, bytes and
//     stats exactly. Quantization is bit-identical on both backends, so this is tight even at 2 bits.
//  2. End to end through SessionFactory, as the runner does: the device forward pass feeds FP16 activations into
//     the GEMMs, so keys differ from the CPU's by rounding and a low-bit quantizer may round them to other codes;
//     logits are compared loosely (tightly for lossless-enough storage), bytes and stats exactly.
// Skips when no GPU is present (or the model is not cached); runs on the CPU emulation (build-emu) too.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/core/registry.h"
#include "harness/core/session_factory.h"
#include "harness/runtime/cuda/cuda_backend.h"
#include "harness/runtime/kv_cache.h"
#include "kernels/cuda/kv_cuda.h"
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

// Calls fn(method, raw parameters, canonical parameters) for every method with both a CPU and a device cache and
// each of its parameter sets, under a trace naming them; returns how many configurations it ran.
template <class Fn>
int for_each_device_config(Fn&& fn) {
  int n = 0;
  for (const MethodInfo* mi : MethodRegistry::all()) {
    if (!mi->make_device_kv_cache || !mi->make_kv_cache) continue;
    for (const nlohmann::json& raw : param_sets(mi->name)) {
      SCOPED_TRACE(mi->name + " " + raw.dump());
      fn(*mi, raw, Params(mi->schema.canonicalize(raw, "", "")));
      ++n;
    }
  }
  return n;
}

int argmax(const float* x, int n) { return (int)(std::max_element(x, x + n) - x); }

// Parameter sets whose storage loses so little (FP16, 8-bit) that end-to-end logits stay within 1 of the CPU's.
bool fine_storage(const std::string& method, const nlohmann::json& p) {
  if (method == "fp16" || method == "kv-int8" || method == "streamingllm" || method == "h2o" || method == "snapkv")
    return true;
  if (method == "kv-uniform") return p.value("bits", 4) == 8;
  if (method == "zipcache") return p.value("bits_low", 2) == 8;
  return false;
}

// The same bytes (in total and as FP16 window) and the same stats (where both caches report some).
void expect_same_accounting(const rt::KvBytes& dev, const rt::KvBytes& cpu, const nlohmann::json& dev_stats,
                            const nlohmann::json& cpu_stats) {
  EXPECT_EQ(dev.total(), cpu.total());
  EXPECT_EQ(dev.window, cpu.window);
  if (!cpu_stats.empty() && !dev_stats.empty()) {
    EXPECT_EQ(dev_stats, cpu_stats);
  }
}

std::vector<float> randn(size_t n, std::mt19937& g) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

kern::cuda::DeviceBuffer to_device(const std::vector<float>& v) {
  kern::cuda::DeviceBuffer b(v.size() * sizeof(float));
  b.upload(v.data(), v.size() * sizeof(float));
  return b;
}

TEST(CudaMethods, EveryDeviceCacheMatchesItsCpuCacheOnTheSameInputs) {
  std::string why;
  if (!rt::device_available(rt::Device::Cuda, &why)) GTEST_SKIP() << why;
  BENCH_REQUIRE_MODEL(path);
  auto model = rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F16, 2});
  auto cm = rt::cuda::upload(*model);
  MethodContext mc;
  mc.geometry = model->kv_geometry(2);
  mc.config = &model->config();
  mc.seed = 1;
  mc.device_geometry = rt::cuda::device_geometry(*cm);
  const int Hq = mc.geometry.n_q_heads, Hkv = mc.geometry.n_kv_heads, D = mc.geometry.head_dim;
  // Calls per layer: a prefill, then decode steps and chunks (as wikitext2's streaming mode sends).
  std::vector<std::pair<rt::Phase, int>> calls{{rt::Phase::Prefill, 170}};
  for (int i = 0; i < 30; ++i) calls.push_back({rt::Phase::Decode, 1});
  calls.push_back({rt::Phase::Decode, 16});
  for (int i = 0; i < 10; ++i) calls.push_back({rt::Phase::Decode, 1});
  const int checked = for_each_device_config([&](const MethodInfo& mi, const nlohmann::json& raw,
                                                            const Params& params) {
    auto cpu = mi.make_kv_cache(mc, params);
    auto dev = mi.make_device_kv_cache(mc, params);
    std::mt19937 g(7);
    int64_t n_past = 0;
    float worst = 0.0f;
    for (const auto& [phase, n] : calls) {
      std::vector<int32_t> pos(n);
      for (int i = 0; i < n; ++i) pos[i] = (int32_t)(n_past + i);
      kern::cuda::DeviceBuffer dpos(n * sizeof(int32_t));
      dpos.upload(pos.data(), n * sizeof(int32_t));
      for (int layer = 0; layer < 2; ++layer) {
        std::vector<float> q = randn((size_t)n * Hq * D, g), k = randn((size_t)n * Hkv * D, g),
                           v = randn((size_t)n * Hkv * D, g);
        kern::cuda::DeviceBuffer dq = to_device(q), dk = to_device(k), dv = to_device(v),
                                 dout((size_t)n * Hq * D * sizeof(float));
        std::vector<float> out((size_t)n * Hq * D), got(out.size());
        rt::AttnBatch b;
        b.layer = layer;
        b.phase = phase;
        b.n = n;
        b.pos = pos.data();
        b.q = q.data();
        b.k = k.data();
        b.v = v.data();
        b.out = out.data();
        cpu->attend(b);
        rt::DeviceAttnBatch db;
        db.layer = layer;
        db.phase = phase;
        db.n = n;
        db.pos = dpos.as<int32_t>();
        db.pos_host = pos.data();
        db.q = dq.as<float>();
        db.k = dk.as<float>();
        db.v = dv.as<float>();
        db.out = dout.as<float>();
        dev->attend(db);
        dout.download(got.data(), got.size() * sizeof(float));
        for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(out[i] - got[i]));
        for (int h = 0; h < Hkv; ++h) ASSERT_EQ(dev->tokens(layer, h), cpu->tokens(layer, h)) << "layer " << layer;
      }
      n_past += n;
    }
    // Attention outputs are averages of values of scale 1: float rounding (and RoPE's sin/cos) stay far below.
    EXPECT_LT(worst, 2e-3f);
    expect_same_accounting(dev->bytes(), cpu->bytes(), dev->stats(), cpu->stats());
  });
  EXPECT_GE(checked, 19);
}

TEST(CudaMethods, EveryDeviceMethodRunsEndToEndLikeTheCpu) {
  std::string why;
  if (!rt::device_available(rt::Device::Cuda, &why)) GTEST_SKIP() << why;
  BENCH_REQUIRE_MODEL(path);
  auto model = rt::Model::load(path, rt::LoadOptions{rt::WeightStorage::F16, 2});
  // Long enough that KIVI's residual blocks and per-channel groups flush during prefill and during decode.
  std::string text;
  for (int i = 0; i < 16; ++i) text += "The harbour master logged ship " + std::to_string(i * 37) + " at dawn. ";
  const std::vector<int32_t> prompt = model->tokenizer().encode(text, true, false);
  const int V = model->config().vocab_size, steps = 40;
  ASSERT_GT(prompt.size(), 150u);
  SessionFactory cpu(rt::Device::Cpu, 2, 1), gpu(rt::Device::Cuda, 2, 1);
  const int checked = for_each_device_config([&](const MethodInfo& mi, const nlohmann::json& raw,
                                                            const Params& params) {
    auto c = cpu.make(*model, mi, params);
    auto g = gpu.make(*model, mi, params);
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
    // FP16 activations into the GEMMs on the device vs F32 on the CPU: keys differ by rounding, which a 2- or
    // 4-bit quantizer can turn into another code, and the greedy paths then drift apart; FP16/8-bit storage
    // stays close. A broken cache (wrong rows, wrong positions) disagrees almost everywhere.
    if (fine_storage(mi.name, raw)) {
      EXPECT_LT(worst, 1.0f);
      EXPECT_GE(agree, steps - 2);
    } else {
      EXPECT_GE(agree, (steps + 1) * 6 / 10);
    }
    expect_same_accounting(g->kv_bytes(), c->kv_bytes(), g->kv_stats(), c->kv_stats());
  });
  EXPECT_GE(checked, 19);
}

}  // namespace
}  // namespace bp
