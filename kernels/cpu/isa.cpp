#include "kernels/cpu/isa.h"

#include <cstdlib>
#include <cstring>

namespace bp::kern {

namespace {
Isa detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Scalar;
}

Isa env_cap() {
  const char* e = std::getenv("BENCH_ISA");
  if (!e) return Isa::Avx512;
  if (!std::strcmp(e, "scalar")) return Isa::Scalar;
  if (!std::strcmp(e, "avx2")) return Isa::Avx2;
  return Isa::Avx512;
}

Isa g_cap = env_cap();
}  // namespace

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa active_isa() {
  Isa d = detected_isa();
  return (int)d < (int)g_cap ? d : g_cap;
}

void set_isa_cap(Isa cap) { g_cap = cap; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

}  // namespace bp::kern
