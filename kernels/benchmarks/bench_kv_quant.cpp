// Throughput of KV quantization (F32 rows -> packed codes + FP16 stats), dequantization and FP16 array
// conversion, in bytes of F32 input (or output) per second, for SmolLM2-135M heads (D = 64).
//   build/kernels/bench_kv_quant --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// BM_Quantize arguments: role (0 keys, 1 values), bits, axis (0 per-token, 1 per-channel), group, tokens.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/fp16_convert.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kv_quant.h"

namespace {

using namespace bp::kern;

constexpr int kD = 64;

std::vector<float> randn(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

KvLayout layout_of(const benchmark::State& st) {
  KvLayout L;
  L.role = st.range(0) ? KvRole::Values : KvRole::Keys;
  L.bits = (int)st.range(1);
  L.axis = st.range(2) ? KvAxis::PerChannel : KvAxis::PerToken;
  L.group = (int)st.range(3);
  L.head_dim = kD;
  return L;
}

std::string label(const KvLayout& L) {
  return std::string(L.role == KvRole::Keys ? "keys " : "values ") + std::to_string(L.bits) + "b " +
         (L.axis == KvAxis::PerToken ? "per-token G" : "per-channel G") + std::to_string(L.group);
}

void BM_Quantize(benchmark::State& st) {
  const KvLayout L = layout_of(st);
  const int T = (int)st.range(4);
  const auto x = randn((size_t)T * kD);
  KvStore s(L);
  s.resize(T);
  for (auto _ : st) {
    kv_quantize(s.mut(), x.data(), kD, 0, T);
    benchmark::ClobberMemory();
  }
  st.counters["inGB/s"] = benchmark::Counter((double)x.size() * sizeof(float),
                                             benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  st.SetLabel(label(L));
}

void BM_Dequantize(benchmark::State& st) {
  const KvLayout L = layout_of(st);
  const int T = (int)st.range(4);
  const auto x = randn((size_t)T * kD);
  std::vector<float> y(x.size());
  KvStore s(L);
  s.resize(T);
  kv_quantize(s.mut(), x.data(), kD, 0, T);
  for (auto _ : st) {
    kv_dequantize(s.view(), 0, T, y.data(), kD);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["outGB/s"] = benchmark::Counter((double)y.size() * sizeof(float),
                                              benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  st.SetLabel(label(L));
}

void quant_args(benchmark::internal::Benchmark* b) {
  for (int bits : {2, 4, 8}) {
    b->Args({0, bits, 1, 32, 4096});  // KIVI keys
    b->Args({1, bits, 0, 32, 4096});  // KIVI values
    b->Args({0, bits, 0, 0, 4096});   // uniform per-token keys
  }
  b->Args({1, 4, 0, 32, 1});  // one decode token
}
BENCHMARK(BM_Quantize)->Apply(quant_args);
BENCHMARK(BM_Dequantize)->Apply(quant_args);

void BM_F32ToF16(benchmark::State& st) {
  const auto x = randn(1 << 16);
  std::vector<uint16_t> h(x.size());
  set_isa_cap((Isa)st.range(0));
  for (auto _ : st) {
    f32_to_f16_array(x.data(), h.data(), x.size());
    benchmark::DoNotOptimize(h.data());
  }
  st.counters["inGB/s"] = benchmark::Counter((double)x.size() * 4, benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
  st.SetLabel(isa_name(active_isa()));
  set_isa_cap(Isa::Avx512);
}
BENCHMARK(BM_F32ToF16)->Arg(0)->Arg(1)->Arg(2);

}  // namespace

BENCHMARK_MAIN();
