#pragma once
// A thin float-vector type for the attention kernels, written once for AVX2 (8 lanes) and AVX-512 (16 lanes).
// Include ONLY from *_avx2.cpp / *_avx512.cpp files, after `#define BP_SIMD_NS avx2` (or avx512): everything here
// lives in bp::kern::<BP_SIMD_NS> so the two instantiations never share a symbol, and no function compiled with
// AVX flags can be picked by the linker for baseline code (which is also why the ISA files call no inline helper of
// the shared headers).
#include <immintrin.h>

#include <cstdint>
#include <utility>

#if !defined(BP_SIMD_NS)
#error "define BP_SIMD_NS (avx2 or avx512) before including kv_simd.h"
#endif

namespace bp::kern::BP_SIMD_NS {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }
inline int64_t imin_(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax_(int64_t a, int64_t b) { return a > b ? a : b; }

// Software prefetch of [p, p + bytes) one 64-byte line at a time (streams one tile ahead of the kernels: single
// thread DRAM bandwidth is latency-bound without it). T0: into L1 (small tiles), T1: into L2 (large tiles).
template <int Hint = _MM_HINT_T0>
inline void prefetch_bytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t i = 0; i < bytes; i += 64) _mm_prefetch(c + i, (enum _mm_hint)Hint);
}

// static_for<N>(f) calls f(std::integral_constant<int, i>{}) for i = 0..N-1: fully unrolled loops whose index is
// a constant expression (decltype(i)::value), so arrays of vector accumulators stay in registers.
template <int... Is, class Fn>
inline void static_for_impl(std::integer_sequence<int, Is...>, Fn&& f) {
  (f(std::integral_constant<int, Is>{}), ...);
}
template <int N, class Fn>
inline void static_for(Fn&& f) {
  static_for_impl(std::make_integer_sequence<int, N>{}, f);
}

// Calls Op<n>::run(args...) for a run-time n in [1, N] (row counts of register-blocked loops).
template <int N, template <int> class Op, class... Args>
inline void dispatch_n(int n, Args&&... args) {
  if constexpr (N >= 1) {
    if (n == N) return Op<N>::run(args...);
    dispatch_n<N - 1, Op>(n, args...);
  }
}

#if defined(__AVX512F__)

struct Vec {
  static constexpr int W = 16;
  using F = __m512;
  using I = __m512i;
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static float hmax(F v) { return _mm512_reduce_max_ps(v); }
  static float hsum(F v) { return _mm512_reduce_add_ps(v); }
  static F load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  // W bytes widened to W int32 lanes.
  static I load_bytes(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  // Codes at bit offset Shift of zero-extended bytes; the top field of a byte needs no mask.
  template <int Shift, int Mask>
  static F codes(I raw) {
    if constexpr (Shift == 0 && Mask == 255) return _mm512_cvtepi32_ps(raw);
    else if constexpr (Shift + __builtin_popcount(Mask) == 8) return _mm512_cvtepi32_ps(_mm512_srli_epi32(raw, Shift));
    else return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(raw, Shift), _mm512_set1_epi32(Mask)));
  }
  // Lanes at index >= n (of 0..W-1) set to `fill`.
  static F keep_first(F v, int n, float fill) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n < 0 ? 0 : n)) - 1u);
    return _mm512_mask_blend_ps(m, _mm512_set1_ps(fill), v);
  }
  // 2^n for integer-valued n (as float) times p.
  static F scale2(F p, F n) { return _mm512_scalef_ps(p, n); }
  static F round(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F select_ge(F x, float lim, F a, F b) {  // x >= lim ? a : b
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(lim), _CMP_GE_OQ), b, a);
  }
};

#else

struct Vec {
  static constexpr int W = 8;
  using F = __m256;
  using I = __m256i;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static float hmax(F v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
  }
  static float hsum(F v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
  }
  static F load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I load_bytes(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  // Codes at bit offset Shift of zero-extended bytes; the top field of a byte needs no mask.
  template <int Shift, int Mask>
  static F codes(I raw) {
    if constexpr (Shift == 0 && Mask == 255) return _mm256_cvtepi32_ps(raw);
    else if constexpr (Shift + __builtin_popcount(Mask) == 8) return _mm256_cvtepi32_ps(_mm256_srli_epi32(raw, Shift));
    else return _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(raw, Shift), _mm256_set1_epi32(Mask)));
  }
  static F keep_first(F v, int n, float fill) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
    return _mm256_blendv_ps(_mm256_set1_ps(fill), v, keep);
  }
  static F scale2(F p, F n) {
    // n is an integer in [-127, 127] here (see exp): add it to the exponent field.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static F round(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F select_ge(F x, float lim, F a, F b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_set1_ps(lim), _CMP_GE_OQ));
  }
};

#endif

// e^x, relative error about 2e-7 for x in [-87, 88]; 0 below -87 (and for -inf), which is where the true value
// falls under the smallest normal float. Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, then a degree-6
// Taylor polynomial of e^r (truncation 1.2e-7 at |r| = 0.347).
inline Vec::F vexp(Vec::F x) {
  using V = Vec;
  const V::F xh = V::min(V::max(x, V::set1(-87.0f)), V::set1(88.0f));
  const V::F n = V::round(V::mul(xh, V::set1(1.44269504088896341f)));
  V::F r = V::fmadd(n, V::set1(-0.693359375f), xh);  // ln2 split: hi has few mantissa bits, so n·hi is exact
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  V::F p = V::set1(1.0f / 720.0f);
  p = V::fmadd(p, r, V::set1(1.0f / 120.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 24.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 6.0f));
  p = V::fmadd(p, r, V::set1(0.5f));
  p = V::fmadd(p, r, V::set1(1.0f));
  p = V::fmadd(p, r, V::set1(1.0f));
  return V::select_ge(x, -87.0f, V::scale2(p, n), V::zero());
}

}  // namespace bp::kern::BP_SIMD_NS
