#pragma once
// The weight-only quantized product's inner loop, written once over kv_simd.h's Vec (8 lanes for AVX2, 16 for
// AVX-512). Include only from wq_gemm_avx2.cpp / wq_gemm_avx512.cpp, after defining BP_SIMD_NS.
#include "kernels/cpu/kv_simd.h"

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

}  // namespace bp::kern::BP_SIMD_NS
