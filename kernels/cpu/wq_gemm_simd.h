#pragma once
// The weight-only quantized product's inner loop, written once over kv_simd.h's Vec (8 lanes for AVX2, 16 for
// AVX-512). Include only from wq_gemm_avx2.cpp / wq_gemm_avx512.cpp, after defining BP_SIMD_NS.
#include "kernels/cpu/kv_simd.h"
#include "kernels/cpu/wq_gemm.h"

namespace bp::kern::BP_SIMD_NS {

// W unsigned byte codes as floats.
inline Vec::F bytes_to_float(const uint8_t* q) { return Vec::codes<0, 255>(Vec::load_bytes(q)); }

// Σ x[k] · q[k], k < len: two accumulators (two FMA ports), a scalar tail.
inline float dot_codes_impl(const float* x, const uint8_t* q, int len) {
  constexpr int W = Vec::W;
  Vec::F a0 = Vec::zero(), a1 = Vec::zero();
  int k = 0;
  for (; k + 2 * W <= len; k += 2 * W) {
    a0 = Vec::fmadd(Vec::load(x + k), bytes_to_float(q + k), a0);
    a1 = Vec::fmadd(Vec::load(x + k + W), bytes_to_float(q + k + W), a1);
  }
  for (; k + W <= len; k += W) a0 = Vec::fmadd(Vec::load(x + k), bytes_to_float(q + k), a0);
  // Lanes summed through memory: GCC 12 reports a false -Wuninitialized inside _mm512_reduce_add_ps.
  float lanes[W];
  Vec::store(lanes, Vec::add(a0, a1));
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += lanes[i];
  for (; k < len; ++k) s += x[k] * (float)q[k];
  return s;
}

// Σ x[k] · q[k], k < len, for 4-bit codes read straight from their packed bytes (two per byte, the even input in
// the low nibble): 16 bytes are split into nibbles and re-interleaved into input order in registers, so no unpacked
// copy is written. The decode hot path of 4-bit weights.
inline float dot_nibbles_impl(const float* x, const uint8_t* packed, int len) {
  constexpr int W = Vec::W;
  Vec::F a0 = Vec::zero(), a1 = Vec::zero();
  const __m128i mask = _mm_set1_epi8(0x0F);
  int k = 0;
  for (; k + 32 <= len; k += 32) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + k / 2));
    const __m128i lo = _mm_and_si128(b, mask), hi = _mm_and_si128(_mm_srli_epi16(b, 4), mask);
    const __m128i q0 = _mm_unpacklo_epi8(lo, hi), q1 = _mm_unpackhi_epi8(lo, hi);  // codes k..k+15, k+16..k+31
#if defined(__AVX512F__)
    static_assert(W == 16);
    a0 = Vec::fmadd(Vec::load(x + k), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q0)), a0);
    a1 = Vec::fmadd(Vec::load(x + k + 16), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q1)), a1);
#else
    static_assert(W == 8);
    a0 = Vec::fmadd(Vec::load(x + k), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)), a0);
    a1 = Vec::fmadd(Vec::load(x + k + 8), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))), a1);
    a0 = Vec::fmadd(Vec::load(x + k + 16), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)), a0);
    a1 = Vec::fmadd(Vec::load(x + k + 24), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8))), a1);
#endif
  }
  float lanes[W];
  Vec::store(lanes, Vec::add(a0, a1));
  float s = 0.0f;
  for (int i = 0; i < W; ++i) s += lanes[i];
  for (; k < len; ++k) s += x[k] * (float)((packed[k / 2] >> (4 * (k & 1))) & 0xF);
  return s;
}

// One output row of 4-bit codes against one input row: Σ_g scale_g · Σ_k x_k q_k + offset_g · Σx_g, with every
// group's codes contiguous (G/2 bytes each) and its FP16 scale (and minimum) converted in registers. One call per
// (row, input row) instead of one per group: the per-group call and conversion overhead dominated decode.
inline float row_nibbles_impl(const WqRowArgs& a) {
  float acc = 0.0f;
  const float half = 8.0f;  // 2^(4-1): the symmetric code offset
  for (int g = 0; g < a.groups; ++g) {
    const int len = g + 1 < a.groups ? a.group : a.K - a.group * (a.groups - 1);
    const float s = half_to_float(a.scales[g]);
    const float o = a.mins ? half_to_float(a.mins[g]) : -s * half;
    acc += s * dot_nibbles_impl(a.x + (size_t)g * a.group, a.codes + (size_t)g * (a.group / 2), len) + o * a.sum_x[g];
  }
  return acc;
}

}  // namespace bp::kern::BP_SIMD_NS
