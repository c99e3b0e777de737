#pragma once
// BP_HD marks per-element math that is compiled for both the host (CPU kernels, unit tests) and the device
// (kernels/cuda). Keeping the math in one place is how the CUDA kernels' arithmetic gets tested on a CPU-only machine.
#if defined(__CUDACC__)
#define BP_HD __host__ __device__ __forceinline__
#else
#define BP_HD inline
#endif
