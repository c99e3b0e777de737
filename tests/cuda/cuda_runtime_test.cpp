// The CUDA backend of the runtime against the CPU reference, op by op and for whole-model logits, in the manner of
// llama.cpp's test-backend-ops. Every test skips (with the reason) when no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "harness/runtime/cuda/cuda_backend.h"
#include "harness/runtime/cuda/device_dense_kv_cache.h"
#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/model.h"
#include "kernels/common/fp16.h"
#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"
#include "tests/common/test_env.h"
#include "tests/cuda/cuda_test_util.h"

namespace bp::rt {
namespace {

namespace kc = bp::kern::cuda;

#define SKIP_WITHOUT_GPU()                                          \
  do {                                                              \
    std::string why;                                                \
    if (!device_available(Device::Cuda, &why)) GTEST_SKIP() << why; \
  } while (0)

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

kc::DeviceBuffer to_device(const std::vector<float>& v) {
  kc::DeviceBuffer b(v.size() * 4);
  b.upload(v.data(), v.size() * 4);
  return b;
}

std::vector<float> to_host(const kc::DeviceBuffer& b, size_t n) {
  std::vector<float> v(n);
  b.download(v.data(), n * 4);
  return v;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST(CudaOps, RmsNormAndSwigluMatchCpu) {
  BP_REQUIRE_GPU();  // kernel parity: skipped under the emulation (its rmsnorm/swiglu are the CPU math)
  const int n = 7, d = 576;
  auto x = randn((size_t)n * d, 1), w = randn(d, 2), u = randn((size_t)n * d, 3);
  std::vector<float> ref((size_t)n * d);
  for (int i = 0; i < n; ++i) kern::rmsnorm_row_ref(x.data() + i * d, d, w.data(), 1e-5f, ref.data() + i * d);
  auto dx = to_device(x), dw = to_device(w), dy = to_device(ref), du = to_device(u);
  kc::rmsnorm_rows(dx.as<float>(), n, d, dw.as<float>(), 1e-5f, dy.as<float>(), nullptr);
  kc::stream_sync(nullptr);
  EXPECT_LT(max_abs_diff(to_host(dy, ref.size()), ref), 1e-5f);
  kern::swiglu_ref(x.data(), u.data(), x.size(), ref.data());
  kc::swiglu(dx.as<float>(), du.as<float>(), x.size(), dy.as<float>(), nullptr);
  kc::stream_sync(nullptr);
  EXPECT_LT(max_abs_diff(to_host(dy, ref.size()), ref), 1e-5f);
}

TEST(CudaOps, AttentionOverF16CacheMatchesCpu) {
  BP_REQUIRE_GPU();  // kernel parity: the emulated attention_partial_f16 is attention_partial_f16_ref
  for (int T : {1, 37, 1000}) {
    const int m = 3, D = 64;
    auto q = randn((size_t)m * D, 4, 0.2f), k = randn((size_t)T * D, 5), v = randn((size_t)T * D, 6);
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    for (size_t i = 0; i < k.size(); ++i) {
      k16[i] = kern::f32_to_f16(k[i]);
      v16[i] = kern::f32_to_f16(v[i]);
      k[i] = kern::f16_to_f32(k16[i]);
      v[i] = kern::f16_to_f32(v16[i]);
    }
    std::vector<float> mx(m), sm(m), acc((size_t)m * D);
    kern::AttnF32Args a{q.data(), D, m, k.data(), v.data(), D, T, D, T, mx.data(), sm.data(), acc.data()};
    kern::attention_partial_f32_ref(a);
    auto dq = to_device(q);
    kc::DeviceBuffer dk(k16.size() * 2), dv(v16.size() * 2), dm(m * 4), ds(m * 4), da((size_t)m * D * 4);
    dk.upload(k16.data(), k16.size() * 2);
    dv.upload(v16.data(), v16.size() * 2);
    kc::attention_partial_f16(dq.as<float>(), D, m, dk.as<uint16_t>(), dv.as<uint16_t>(), D, T, D, dm.as<float>(),
                              ds.as<float>(), da.as<float>(), nullptr);
    kc::stream_sync(nullptr);
    const auto gs = to_host(ds, m), ga = to_host(da, (size_t)m * D);
    for (int i = 0; i < m; ++i)
      for (int d = 0; d < D; ++d)
        EXPECT_NEAR(ga[i * D + d] / gs[i], acc[i * D + d] / sm[i], 1e-4f) << "T=" << T;
  }
}

TEST(CudaModel, LogitsMatchCpuBackend) {
  SKIP_WITHOUT_GPU();
  BENCH_REQUIRE_MODEL(path);
  auto model = Model::load(path, LoadOptions{WeightStorage::F16, 2});
  const std::vector<int32_t> tokens = model->tokenizer().encode(
      "The quick brown fox jumps over the lazy dog. The pass key is 12345. Remember it.", false, false);
  const int V = model->config().vocab_size, n = (int)tokens.size();
  Session cpu(*model, std::make_unique<DenseKvCache>(model->kv_geometry(2), DenseKvType::F16), 2);
  const float* lc = cpu.prefill(tokens, Logits::All);
  std::vector<float> ref(lc, lc + (size_t)n * V);
  auto cm = cuda::upload(*model);
  Session gpu(*model, cuda::make_session(cm, std::make_unique<cuda::DeviceDenseKvCache>(cuda::device_geometry(*cm))),
              2);
  EXPECT_EQ(gpu.device_name(), "cuda");
  const float* lg = gpu.prefill(tokens, Logits::All);
  int agree = 0;
  float worst = 0.0f;
  for (int p = 0; p < n; ++p) {
    const float* a = ref.data() + (size_t)p * V;
    const float* b = lg + (size_t)p * V;
    for (int v = 0; v < V; ++v) worst = std::max(worst, std::fabs(a[v] - b[v]));
    agree += (std::max_element(a, a + V) - a) == (std::max_element(b, b + V) - b);
  }
  // FP16 activations into cuBLAS vs F32 on the CPU: a loose bound, argmax nearly always equal.
  EXPECT_LT(worst, 0.25f);
  EXPECT_GE(agree, n - 1);
  // Decode steps through the device cache agree with the CPU's decode.
  std::vector<float> dg_copy;
  const float* dg = gpu.decode(std::span<const int32_t>(tokens.data(), 1), Logits::Last);
  dg_copy.assign(dg, dg + V);
  const float* dc = cpu.decode(std::span<const int32_t>(tokens.data(), 1), Logits::Last);
  float worst_decode = 0.0f;
  for (int v = 0; v < V; ++v) worst_decode = std::max(worst_decode, std::fabs(dg_copy[v] - dc[v]));
  EXPECT_LT(worst_decode, 0.25f);
  EXPECT_EQ(std::max_element(dg_copy.begin(), dg_copy.end()) - dg_copy.begin(), std::max_element(dc, dc + V) - dc)
      << "decode logits differ by up to " << worst_decode;
  EXPECT_EQ(gpu.kv_bytes().total(), cpu.kv_bytes().total());
}

TEST(CudaModel, UnavailableDeviceIsAClearError) {
  std::string why;
  if (device_available(Device::Cuda, &why)) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace bp::rt
