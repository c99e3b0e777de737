// DeviceKvCache::bytes_allocated() of every method with a device cache, at parameter sets derived from its schema
// (tests/common/param_variants.h): over a prefill of a few hundred tokens and decode steps it covers what the cache
// holds (bytes()) and stays below 1.3x of it (bounded growth; the eviction caches keep only what is kept, not
// prompt-sized buffers). A cache-level test: it runs on the CPU emulation (build-emu) as on a GPU. Geometry and
// RoPE frequencies are synthetic (no model needed).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/device_session.h"
#include "tests/common/kv/test_support.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"
#include "tests/common/param_variants.h"

namespace bp {
namespace {

namespace kc = bp::kern::cuda;

constexpr int kPrompt = 300, kDecode = 24;
constexpr double kMaxRatio = 1.3;

kc::DeviceBuffer upload(const std::vector<float>& v) {
  kc::DeviceBuffer b(v.size() * sizeof(float));
  b.upload(v.data(), v.size() * sizeof(float));
  return b;
}

// One call of one layer on the device cache (inputs random, positions p0..p0+n-1).
void device_call(rt::DeviceKvCache& c, const rt::DeviceGeometry& g, int layer, rt::Phase phase, int64_t p0, int n,
                 std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto randn = [&](size_t m) {
    std::vector<float> v(m);
    for (float& x : v) x = nd(rng);
    return v;
  };
  std::vector<int32_t> pos(n);
  for (int i = 0; i < n; ++i) pos[i] = (int32_t)(p0 + i);
  kc::DeviceBuffer dpos(n * sizeof(int32_t));
  dpos.upload(pos.data(), n * sizeof(int32_t));
  const int D = g.head_dim;
  kc::DeviceBuffer q = upload(randn((size_t)n * g.n_q_heads * D)), k = upload(randn((size_t)n * g.n_kv_heads * D)),
                   v = upload(randn((size_t)n * g.n_kv_heads * D)), out((size_t)n * g.n_q_heads * D * sizeof(float));
  rt::DeviceAttnBatch b;
  b.layer = layer;
  b.phase = phase;
  b.n = n;
  b.pos = dpos.as<int32_t>();
  b.pos_host = pos.data();
  b.q = q.as<float>();
  b.k = k.as<float>();
  b.v = v.as<float>();
  b.out = out.as<float>();
  c.attend(b);
  kc::stream_sync(nullptr);
}

TEST(CudaKvAlloc, EveryDeviceCacheAllocatesCloseToWhatItHolds) {
  std::string why;
  if (!rt::device_available(rt::Device::Cuda, &why)) GTEST_SKIP() << why;
  const rt::kv::testing::TinyModel tiny = rt::kv::testing::tiny_model(2, 4, 2, 64);
  const int D = tiny.cfg.head_dim;
  std::vector<float> inv_freq(D / 2);
  for (int j = 0; j < D / 2; ++j) inv_freq[j] = std::pow(tiny.cfg.rope_theta, -2.0f * (float)j / (float)D);
  kc::DeviceBuffer d_inv_freq = upload(inv_freq);
  MethodContext mc;
  mc.geometry = tiny.geometry(2);
  mc.config = &tiny.cfg;
  mc.seed = 3;
  mc.device_geometry = {tiny.cfg.n_layers, tiny.cfg.n_heads, tiny.cfg.n_kv_heads, D, d_inv_freq.as<float>()};
  int methods = 0, measured = 0;
  for (const MethodInfo* m : MethodRegistry::all()) {
    if (!m->make_device_kv_cache) continue;
    ++methods;
    for (const Params& params : test::accepted_parameter_sets(*m)) {
      const Params* p = &params;
      std::unique_ptr<rt::DeviceKvCache> c;
      try {
        c = m->make_device_kv_cache(mc, *p);
      } catch (const std::exception&) {
        continue;  // not usable with this geometry
      }
      SCOPED_TRACE(m->name + " " + p->canonical_text());
      std::mt19937 rng(5);
      auto check = [&](const std::string& when) {
        const size_t held = c->bytes().total(), alloc = c->bytes_allocated();
        EXPECT_GE(alloc, held) << when;
        EXPECT_LE((double)alloc, kMaxRatio * (double)held) << when << ": allocated " << alloc << ", held " << held;
      };
      for (int l = 0; l < mc.device_geometry.n_layers; ++l)
        device_call(*c, mc.device_geometry, l, rt::Phase::Prefill, 0, kPrompt, rng);
      check("after the prefill");
      for (int s = 0; s < kDecode; ++s)
        for (int l = 0; l < mc.device_geometry.n_layers; ++l)
          device_call(*c, mc.device_geometry, l, rt::Phase::Decode, kPrompt + s, 1, rng);
      check("after the decode steps");
      ++measured;
    }
  }
  EXPECT_GE(methods, 8);
  EXPECT_GE(measured, methods);
}

}  // namespace
}  // namespace bp
