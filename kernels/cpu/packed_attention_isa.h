#pragma once
// Internal: the ISA-specific entry points behind packed_attention.h and attention_f32.h (defined in
// packed_attention_avx2.cpp / _avx512.cpp and attention_f32_avx2.cpp / _avx512.cpp). Callers go through the
// dispatching functions, which check the layout is one the vector code handles (simd_supports_*) and the ISA.
#include <cstdint>

#include "kernels/cpu/attention_f32.h"
#include "kernels/cpu/packed_attention.h"

namespace bp::kern {

// Largest head_dim the vector kernels handle (their per-call scratch lives on the stack).
inline constexpr int kSimdMaxHeadDim = 256;

// Vector kernels need head_dim % 64 == 0 (so every packed run is whole 16-byte chunks) and per-token groups that
// are multiples of 16 channels.
inline bool simd_supports_store(const PackedKv& s) {
  const KvLayout& L = s.layout;
  if (L.head_dim % 64 != 0 || L.head_dim > kSimdMaxHeadDim) return false;
  if (L.axis == KvAxis::PerToken && kv_group(L) % 16 != 0) return false;
  return true;
}

// Floats of scratch attention_partial_f32 needs (transposed keys).
inline int64_t attention_f32_scratch_floats(const AttnF32Args& a) {
  return ((int64_t)a.T + 64) * a.head_dim;
}

namespace avx2 {
void packed_attention(const PackedAttnArgs& a);
void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride);
void attention_partial_f16(const AttnF16Args& a);
void attention_partial_f32(const AttnF32Args& a, float* scratch);
}  // namespace avx2

namespace avx512 {
void packed_attention(const PackedAttnArgs& a);
void packed_scores(const float* q, int64_t q_stride, int m, const PackedKv& k, int64_t t0, int64_t t1, float* scores,
                   int64_t score_stride);
void attention_partial_f16(const AttnF16Args& a);
void attention_partial_f32(const AttnF32Args& a, float* scratch);
}  // namespace avx512

}  // namespace bp::kern
