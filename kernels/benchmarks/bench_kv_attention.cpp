// Decode attention over a cache of T tokens (SmolLM2-135M heads: D = 64, 3 query rows per KV head) stored as F32,
// FP16 or packed 8/4/2-bit codes, plus a STREAM-like measurement of the machine's single-thread memory bandwidth
// in the same binary, so cache bytes/s can be read against what the memory delivers.
//   build/kernels/bench_kv_attention --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Arguments of BM_Decode: format, T, KV heads (1 = one KV group, 3 = a whole layer), cold.
//   format 0 F32 cache (attention_partial_f32), 1 FP16 cache (attention_partial_f16),
//          2/3/4 KIVI-style packed 8/4/2 bit (keys per-channel in 32-token groups, values per-token in 32-channel
//          groups, FP16 scale + min), 5 uniform 4-bit (keys and values per-token, one group per head vector).
//   cold 1: the call rotates over enough copies of the cache to exceed 4x the last-level cache, so every byte
//          comes from DRAM as in a real decode step over 30 layers; cold 0: one copy (cache-resident when small).
// Counters: cacheGB/s = bytes of K/V storage (codes + scales + mins) read per second; us/step via the time column.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/fp16.h"
#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kv_quant.h"
#include "kernels/cpu/packed_attention.h"

namespace {

using namespace bp::kern;

constexpr int kD = 64;
constexpr int kRows = 3;  // query heads per KV head
constexpr size_t kColdBytes = size_t{128} << 20;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

const char* format_name(int f) {
  static const char* names[] = {"f32", "f16", "kivi8", "kivi4", "kivi2", "uniform4"};
  return names[f];
}

KvLayout kv_layout(int format, KvRole role) {
  KvLayout L;
  L.role = role;
  L.head_dim = kD;
  L.bits = format == 2 ? 8 : (format == 4 ? 2 : 4);
  if (format == 5) {
    L.axis = KvAxis::PerToken;
    L.group = 0;
  } else {
    L.axis = role == KvRole::Keys ? KvAxis::PerChannel : KvAxis::PerToken;
    L.group = 32;
  }
  return L;
}

// One KV head's cache in one format.
struct HeadCache {
  std::vector<float> k32, v32;
  std::vector<uint16_t> k16, v16;
  KvStore kq, vq;
  size_t bytes = 0;
};

HeadCache make_head(int format, int T, uint32_t seed) {
  HeadCache h;
  const auto k = randn((size_t)T * kD, seed), v = randn((size_t)T * kD, seed + 1);
  if (format == 0) {
    h.k32 = k;
    h.v32 = v;
    h.bytes = 2 * k.size() * sizeof(float);
  } else if (format == 1) {
    h.k16.resize(k.size());
    h.v16.resize(v.size());
    for (size_t i = 0; i < k.size(); ++i) {
      h.k16[i] = f32_to_f16(k[i]);
      h.v16[i] = f32_to_f16(v[i]);
    }
    h.bytes = 2 * k.size() * sizeof(uint16_t);
  } else {
    h.kq = KvStore(kv_layout(format, KvRole::Keys));
    h.vq = KvStore(kv_layout(format, KvRole::Values));
    h.kq.resize(T);
    h.vq.resize(T);
    kv_quantize(h.kq.mut(), k.data(), kD, 0, T);
    kv_quantize(h.vq.mut(), v.data(), kD, 0, T);
    h.bytes = kv_store_bytes(h.kq.layout(), T).total() + kv_store_bytes(h.vq.layout(), T).total();
  }
  return h;
}

void attend(int format, const HeadCache& h, int T, const float* q, float* mx, float* sum, float* acc) {
  if (format == 0) {
    AttnF32Args a;
    a.q = q;
    a.q_stride = kD;
    a.m = kRows;
    a.k = h.k32.data();
    a.v = h.v32.data();
    a.kv_stride = kD;
    a.T = T;
    a.head_dim = kD;
    a.causal_offset = T;
    a.out_max = mx;
    a.out_sum = sum;
    a.out_acc = acc;
    attention_partial_f32(a);
  } else if (format == 1) {
    AttnF16Args a;
    a.q = q;
    a.q_stride = kD;
    a.m = kRows;
    a.k = h.k16.data();
    a.v = h.v16.data();
    a.kv_stride = kD;
    a.T = T;
    a.head_dim = kD;
    a.out_max = mx;
    a.out_sum = sum;
    a.out_acc = acc;
    attention_partial_f16(a);
  } else {
    PackedAttnArgs a;
    a.q = q;
    a.q_stride = kD;
    a.m = kRows;
    a.k = h.kq.view();
    a.v = h.vq.view();
    a.out_max = mx;
    a.out_sum = sum;
    a.out_acc = acc;
    packed_attention(a);
  }
}

void BM_Decode(benchmark::State& st) {
  const int format = (int)st.range(0), T = (int)st.range(1), heads = (int)st.range(2);
  const bool cold = st.range(3) != 0;
  const HeadCache proto = make_head(format, T, 1);
  const size_t step_bytes = proto.bytes * heads;
  const size_t copies = cold ? (kColdBytes + step_bytes - 1) / step_bytes : 1;
  std::vector<HeadCache> caches;
  caches.reserve(copies * heads);
  for (size_t c = 0; c < copies * heads; ++c) caches.push_back(proto);  // independent memory per copy
  const auto q = randn((size_t)kRows * kD, 9);
  std::vector<float> mx(kRows), sum(kRows), acc((size_t)kRows * kD);
  size_t next = 0;
  for (auto _ : st) {
    for (int h = 0; h < heads; ++h) {
      attend(format, caches[next * heads + h], T, q.data(), mx.data(), sum.data(), acc.data());
      benchmark::DoNotOptimize(acc.data());
    }
    next = next + 1 == copies ? 0 : next + 1;
  }
  st.counters["cacheGB/s"] = benchmark::Counter((double)step_bytes, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  st.counters["bytes/token"] = (double)proto.bytes / T;
  st.SetLabel(std::string(format_name(format)) + " " + isa_name(active_isa()) + (cold ? " cold" : " hot"));
}

void decode_args(benchmark::internal::Benchmark* b) {
  for (int heads : {1, 3})
    for (int T : {1024, 4096, 16384})
      for (int f = 0; f < 6; ++f) b->Args({f, T, heads, 1});
  for (int f = 0; f < 6; ++f) b->Args({f, 4096, 1, 0});  // cache-resident comparison
}
BENCHMARK(BM_Decode)->Apply(decode_args)->Unit(benchmark::kMicrosecond);

// ---- STREAM-like single-thread bandwidth over 256 MiB (8x the last-level cache) -----------------------------

constexpr size_t kStreamFloats = (size_t{256} << 20) / sizeof(float);

std::vector<float>& stream_a() {
  static std::vector<float> a(kStreamFloats, 1.0f);
  return a;
}
std::vector<float>& stream_b() {
  static std::vector<float> b(kStreamFloats, 2.0f);
  return b;
}

__attribute__((target("avx2"))) float read_avx2(const float* p, size_t n) {
  __m256 s[8];
  for (auto& x : s) x = _mm256_setzero_ps();
  for (size_t i = 0; i + 64 <= n; i += 64)
    for (int j = 0; j < 8; ++j) s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(p + i + 8 * j));
  for (int j = 1; j < 8; ++j) s[0] = _mm256_add_ps(s[0], s[j]);
  alignas(32) float o[8];
  _mm256_store_ps(o, s[0]);
  return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}

void BM_StreamRead(benchmark::State& st) {
  if (detected_isa() < Isa::Avx2) {
    st.SkipWithError("needs AVX2");
    return;
  }
  const auto& a = stream_a();
  for (auto _ : st) benchmark::DoNotOptimize(read_avx2(a.data(), a.size()));
  st.counters["GB/s"] = benchmark::Counter((double)a.size() * sizeof(float), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_StreamRead)->Unit(benchmark::kMillisecond);

// Copy counts read + write bytes, as STREAM does.
void BM_StreamCopy(benchmark::State& st) {
  auto& a = stream_a();
  auto& b = stream_b();
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), a.size() * sizeof(float));
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(2.0 * a.size() * sizeof(float), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_StreamCopy)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
