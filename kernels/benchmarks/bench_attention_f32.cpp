// F32 flash attention of the runtime's new tokens (attention_partial_f32): causal prefill of n tokens of one query
// head (D = 64, the SmolLM2-135M shape) and a decode step, vector kernel vs the scalar reference.
//   build/kernels/bench_attention_f32 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Arguments: n (queries = keys, causal), head_dim, reference (1) or dispatched kernel (0).
// GFLOP/s counts 4·D flops per visible (query, key) pair (Q·K and P·V multiply-adds).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/isa.h"

namespace {

using namespace bp::kern;

std::vector<float> randn(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_Prefill(benchmark::State& st) {
  const int n = (int)st.range(0), D = (int)st.range(1);
  const bool ref = st.range(2) != 0;
  const auto q = randn((size_t)n * D, 1, 0.125f), k = randn((size_t)n * D, 2, 1.0f), v = randn((size_t)n * D, 3, 1.0f);
  std::vector<float> mx(n), sum(n), acc((size_t)n * D);
  AttnF32Args a;
  a.q = q.data();
  a.q_stride = D;
  a.m = n;
  a.k = k.data();
  a.v = v.data();
  a.kv_stride = D;
  a.T = n;
  a.head_dim = D;
  a.causal_offset = 0;
  a.out_max = mx.data();
  a.out_sum = sum.data();
  a.out_acc = acc.data();
  for (auto _ : st) {
    if (ref) attention_partial_f32_ref(a);
    else attention_partial_f32(a);
    benchmark::DoNotOptimize(acc.data());
  }
  const double pairs = (double)n * (n + 1) / 2;
  st.counters["GFLOP/s"] = benchmark::Counter(4.0 * D * pairs, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  st.SetLabel(ref ? "scalar reference" : isa_name(active_isa()));
}
BENCHMARK(BM_Prefill)
    ->Args({512, 64, 1})
    ->Args({512, 64, 0})
    ->Args({2048, 64, 1})
    ->Args({2048, 64, 0})
    ->Args({8192, 64, 0})
    ->Args({2048, 128, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
