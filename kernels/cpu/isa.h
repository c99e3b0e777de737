#pragma once
// Instruction-set level chosen at run time. Kernels compiled with AVX2+FMA or AVX-512 flags live in *_avx2.cpp /
// *_avx512.cpp files and are only called when the running CPU has the instructions; the scalar reference runs
// everywhere. BENCH_ISA=scalar|avx2|avx512 in the environment caps the level (for parity tests and comparisons).
namespace bp::kern {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

Isa detected_isa();      // what the CPU supports
Isa active_isa();        // min(detected, BENCH_ISA cap, set_isa_cap)
void set_isa_cap(Isa cap);  // for tests and benchmarks; not thread-safe against running kernels
const char* isa_name(Isa isa);

}  // namespace bp::kern
