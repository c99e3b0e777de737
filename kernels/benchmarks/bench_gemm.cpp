// GEMM throughput for the model's linear-layer shapes (SmolLM2-135M: d 576, ffn 1536, vocab 49152), F32 and F16
// panels, against the machine's FMA peak of each ISA measured in the same binary (BENCH_ISA=avx2 runs the AVX2
// kernels on an AVX-512 machine: compare them with BM_FmaPeakAvx2).
//   build/kernels/bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

namespace {

using namespace bp::kern;

std::vector<float> randn(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_Gemm(benchmark::State& st) {
  const int M = (int)st.range(0), K = (int)st.range(1), N = (int)st.range(2);
  const PackedType type = st.range(3) ? PackedType::F16 : PackedType::F32;
  const int threads = (int)st.range(4);
  auto x = randn((size_t)M * K), w = randn((size_t)N * K);
  PackedWeights pw(w.data(), N, K, type);
  std::vector<float> y((size_t)M * N);
  for (auto _ : st) {
    gemm_packed(x.data(), M, pw, nullptr, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * K * N, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  st.counters["weightGB/s"] = benchmark::Counter((double)pw.bytes(), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  st.SetLabel(std::string(isa_name(active_isa())) + (type == PackedType::F16 ? " f16" : " f32"));
}

// Peak single-thread FMA throughput of each ISA: 12 independent chains (enough to cover 2 FMA ports x 4-6 cycles
// of latency) of 512-bit or 256-bit FMAs. A GEMM's GFLOP/s over its ISA's figure is its fraction of the peak.
__attribute__((target("avx512f,fma"))) void fma_peak_avx512(benchmark::State& st) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
  for (auto _ : st) {
    for (int r = 0; r < 1024; ++r)
      for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
    benchmark::DoNotOptimize(a);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(1024.0 * 12 * 16 * 2, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
__attribute__((target("avx2,fma"))) void fma_peak_avx2(benchmark::State& st) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
  for (auto _ : st) {
    for (int r = 0; r < 1024; ++r)
      for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
    benchmark::DoNotOptimize(a);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(1024.0 * 12 * 8 * 2, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
void BM_FmaPeakAvx512(benchmark::State& st) {
  if (detected_isa() < Isa::Avx512) {
    st.SkipWithError("no AVX-512");
    return;
  }
  fma_peak_avx512(st);
}
void BM_FmaPeakAvx2(benchmark::State& st) {
  if (detected_isa() < Isa::Avx2) {
    st.SkipWithError("no AVX2");
    return;
  }
  fma_peak_avx2(st);
}

}  // namespace

BENCHMARK(BM_FmaPeakAvx2)->UseRealTime();
BENCHMARK(BM_FmaPeakAvx512)->UseRealTime();
// M, K, N, f16, threads
BENCHMARK(BM_Gemm)
    ->Args({512, 576, 576, 0, 1})
    ->Args({512, 576, 1536, 0, 1})
    ->Args({512, 1536, 576, 0, 1})
    ->Args({512, 576, 1536, 0, 2})
    ->Args({512, 576, 1536, 1, 2})
    ->Args({1, 576, 1536, 0, 1})
    ->Args({1, 576, 1536, 1, 1})
    ->Args({1, 576, 49152, 0, 2})
    ->Args({1, 576, 49152, 1, 2})
    ->UseRealTime();

BENCHMARK_MAIN();
