// GPU decode attention over a KV cache of T tokens (SmolLM2-135M heads: D = 64, 3 query rows per KV head) stored as
// FP16 or packed 8/4/2-bit codes, timed with CUDA events, with the bytes of K/V storage read per second against the
// device's theoretical DRAM bandwidth. Built only with the CUDA backend; without a GPU it says so and exits 0.
//   build/kernels/bench_cuda_kv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/common/kv_layout.h"
#include "kernels/cuda/kv_cuda.h"
#include "kernels/cuda/model_ops.h"

namespace {

using namespace bp::kern;
namespace kc = bp::kern::cuda;

constexpr int kD = 64, kRows = 3;

kc::DeviceBuffer upload(const std::vector<float>& v) {
  kc::DeviceBuffer b(v.size() * 4);
  b.upload(v.data(), v.size() * 4);
  return b;
}

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// bits 16: FP16 cache; 8/4/2: per-token packed (one group per head vector, asymmetric).
void BM_CudaDecode(benchmark::State& st) {
  const int bits = (int)st.range(0), T = (int)st.range(1);
  const auto x = randn((size_t)T * kD, 1), qv = randn((size_t)kRows * kD, 2);
  kc::DeviceBuffer dq = upload(qv), dm(kRows * 4), ds(kRows * 4), da((size_t)kRows * kD * 4);
  kc::EventPair ev = kc::events_create();
  double bytes = 0;
  kc::DeviceBuffer dk16, dv16, dx, kcod, ksc, kmn, vcod, vsc, vmn;
  PackedAttnArgs pa;
  if (bits == 16) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(x[i]);
    dk16 = kc::DeviceBuffer(h.size() * 2);
    dv16 = kc::DeviceBuffer(h.size() * 2);
    dk16.upload(h.data(), h.size() * 2);
    dv16.upload(h.data(), h.size() * 2);
    bytes = 2.0 * h.size() * 2;
  } else {
    dx = upload(x);
    KvLayout kl, vl;
    kl.role = KvRole::Keys;
    vl.role = KvRole::Values;
    for (KvLayout* L : {&kl, &vl}) {
      L->head_dim = kD;
      L->bits = bits;
      L->axis = KvAxis::PerToken;
    }
    const KvStoreBytes kb = kv_store_bytes(kl, T), vb = kv_store_bytes(vl, T);
    kcod = kc::DeviceBuffer(kb.codes), ksc = kc::DeviceBuffer(kb.scales), kmn = kc::DeviceBuffer(kb.mins);
    vcod = kc::DeviceBuffer(vb.codes), vsc = kc::DeviceBuffer(vb.scales), vmn = kc::DeviceBuffer(vb.mins);
    PackedKvMut km{kl, T, kcod.as<uint8_t>(), ksc.as<uint16_t>(), kmn.as<uint16_t>(), nullptr};
    PackedKvMut vm{vl, T, vcod.as<uint8_t>(), vsc.as<uint16_t>(), vmn.as<uint16_t>(), nullptr};
    kc::kv_quantize(km, dx.as<float>(), kD, 0, T);
    kc::kv_quantize(vm, dx.as<float>(), kD, 0, T);
    pa.q = dq.as<float>();
    pa.q_stride = kD;
    pa.m = kRows;
    pa.k = km.view();
    pa.v = vm.view();
    pa.out_max = dm.as<float>();
    pa.out_sum = ds.as<float>();
    pa.out_acc = da.as<float>();
    bytes = (double)(kb.total() + vb.total());
  }
  double total_s = 0;
  for (auto _ : st) {
    kc::event_record(ev.start, nullptr);
    if (bits == 16)
      kc::attention_partial_f16(dq.as<float>(), kD, kRows, dk16.as<uint16_t>(), dv16.as<uint16_t>(), kD, T, kD,
                                dm.as<float>(), ds.as<float>(), da.as<float>(), nullptr);
    else
      kc::packed_attention(pa);
    kc::event_record(ev.stop, nullptr);
    const double s = kc::events_elapsed_ms(ev) / 1e3;
    total_s += s;
    st.SetIterationTime(s);
  }
  kc::events_destroy(ev);
  st.counters["cacheGB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  // Fraction of the device's theoretical DRAM bandwidth the cache reads achieved.
  st.counters["of_peak"] = total_s > 0 ? bytes * (double)st.iterations() / total_s / kc::peak_bandwidth_bytes_per_s()
                                       : 0.0;
  st.SetLabel(bits == 16 ? "fp16" : "int" + std::to_string(bits));
}

}  // namespace

BENCHMARK(BM_CudaDecode)
    ->ArgsProduct({{16, 8, 4, 2}, {1024, 4096, 16384, 65536}})
    ->UseManualTime();

int main(int argc, char** argv) {
  std::string why;
  if (!kc::device_available(&why)) {
    std::printf("bench_cuda_kv: skipped: no CUDA device (%s)\n", why.c_str());
    return 0;
  }
  std::printf("device: %s, theoretical DRAM bandwidth %.0f GB/s\n", kc::device_name().c_str(),
              kc::peak_bandwidth_bytes_per_s() / 1e9);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
