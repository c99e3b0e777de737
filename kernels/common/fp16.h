#pragma once
// IEEE binary16 <-> binary32, bit-exact, as BP_HD functions shared by the CPU kernels, the CUDA kernels and the
// tests. Halves travel as raw uint16_t bits (no compiler half type in the interfaces), so packed layouts are plain
// bytes on both sides.
//   f32 -> f16: round to nearest, ties to even; overflow (|x| >= 65520) -> ±inf; NaN stays NaN (quiet bit set,
//               top payload bits kept), subnormal halves produced exactly. This is what F16C / AVX-512
//               VCVTPS2PH with _MM_FROUND_TO_NEAREST_INT and CUDA __float2half_rn compute, so every path agrees.
//   f16 -> f32: exact (every half is a float); a signaling NaN comes back quiet (as VCVTPH2PS does).
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

namespace bp::kern {

BP_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

BP_HD float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// Portable integer implementation (the reference the vector and device paths are tested against).
BP_HD uint16_t f32_to_f16_soft(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a >= 0x7F800000u)  // inf, NaN
    return (uint16_t)(sign | 0x7C00u | (a > 0x7F800000u ? (0x200u | ((a >> 13) & 0x3FFu)) : 0u));
  if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // >= 65520 rounds past the largest half
  if (a < 0x38800000u) {                                     // below 2^-14: subnormal half or zero
    if (a <= 0x33000000u) return (uint16_t)sign;             // <= 2^-25 (a tie with 0 goes to the even 0)
    const uint32_t e = a >> 23;                              // 102..112
    const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - e;                         // lands the value on the 2^-24 grid
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return (uint16_t)(sign | r);
  }
  uint32_t r = (a >> 13) - (112u << 10);  // rebias the exponent 127 -> 15
  const uint32_t rem = a & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry into the exponent is the right rounding
  return (uint16_t)(sign | r);
}

BP_HD float f16_to_f32_soft(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1Fu;
  const uint32_t m = h & 0x3FFu;
  if (e == 0x1F) return f32_from_bits(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));  // NaN quieted as F16C does
  if (e != 0) return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
  // zero or subnormal: m * 2^-24 is exact in float arithmetic
  const float v = (float)m * 5.9604644775390625e-08f;
  return sign ? -v : v;
}

// The conversions used by kernels: the hardware instruction on the device (same rounding, checked by
// tests/cuda), the portable code on the host (arrays go through kernels/cpu/fp16_convert.h instead).
BP_HD uint16_t f32_to_f16(float f) {
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(f));
#else
  return f32_to_f16_soft(f);
#endif
}

BP_HD float f16_to_f32(uint16_t h) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(h));
#else
  return f16_to_f32_soft(h);
#endif
}

// Rounds a float to the nearest half and back (what storing a value as FP16 does to it).
BP_HD float f16_round(float f) { return f16_to_f32(f32_to_f16(f)); }

}  // namespace bp::kern
