#include "kernels/cpu/fp16_convert.h"

#include "kernels/common/fp16.h"
#include "kernels/cpu/isa.h"

namespace bp::kern {

namespace {
// isa.h's AVX2 level does not promise F16C (every AVX2 CPU so far has it, but the check is free).
bool has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") != 0;
  }();
  return yes;
#else
  return false;
#endif
}
}  // namespace

void f32_to_f16_array_ref(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16_soft(src[i]);
}

void f16_to_f32_array_ref(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32_soft(src[i]);
}

void f32_to_f16_array(const float* src, uint16_t* dst, size_t n) {
  const Isa isa = active_isa();
  if (isa == Isa::Avx512) return avx512::f32_to_f16_array(src, dst, n);
  if (isa == Isa::Avx2 && has_f16c()) return avx2::f32_to_f16_array(src, dst, n);
  f32_to_f16_array_ref(src, dst, n);
}

void f16_to_f32_array(const uint16_t* src, float* dst, size_t n) {
  const Isa isa = active_isa();
  if (isa == Isa::Avx512) return avx512::f16_to_f32_array(src, dst, n);
  if (isa == Isa::Avx2 && has_f16c()) return avx2::f16_to_f32_array(src, dst, n);
  f16_to_f32_array_ref(src, dst, n);
}

}  // namespace bp::kern
