#pragma once
// Array conversions F32 <-> IEEE FP16 (raw uint16_t bits). Vectorized with F16C (AVX2 level) or AVX-512, scalar
// elsewhere; every path rounds to nearest-even exactly like kernels/common/fp16.h, so results are bit-identical.
#include <cstddef>
#include <cstdint>

namespace bp::kern {

void f32_to_f16_array(const float* src, uint16_t* dst, size_t n);
void f16_to_f32_array(const uint16_t* src, float* dst, size_t n);

// The scalar loops (the fallback; also what the tests compare against).
void f32_to_f16_array_ref(const float* src, uint16_t* dst, size_t n);
void f16_to_f32_array_ref(const uint16_t* src, float* dst, size_t n);

// ISA-specific versions (fp16_convert_avx2.cpp needs F16C as well, fp16_convert_avx512.cpp); dispatch above.
namespace avx2 {
void f32_to_f16_array(const float* src, uint16_t* dst, size_t n);
void f16_to_f32_array(const uint16_t* src, float* dst, size_t n);
}  // namespace avx2
namespace avx512 {
void f32_to_f16_array(const float* src, uint16_t* dst, size_t n);
void f16_to_f32_array(const uint16_t* src, float* dst, size_t n);
}  // namespace avx512

}  // namespace bp::kern
