#pragma once
// Helpers of the CUDA kernel tests: skip without a GPU or under the CPU emulation (with the reason), and copies
// between std::vector and device buffers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cudatest {

// Why a kernel parity test cannot run in this build, or nullptr. Under the CPU emulation of the CUDA wrappers
// (BENCH_CUDA_EMULATED, kernels/cuda/emulation) the "kernel" is the CPU reference itself or a CPU loop over the same
// shared math: comparing it with the reference would pass whatever the .cu kernel does, so such tests skip (with the
// reason) instead of reporting a pass. Session- and cache-level tests do not use this and keep running there.
inline const char* kernel_parity_skip_reason() {
#if defined(BENCH_CUDA_EMULATED)
  return "CUDA emulation build: the emulated kernel is the CPU reference, so this kernel parity test would compare "
         "the reference with itself (the .cu kernel is not built here; it runs on a GPU)";
#else
  return nullptr;
#endif
}

template <class T>
cuda::DeviceBuffer to_device(const std::vector<T>& v) {
  cuda::DeviceBuffer b(v.size() * sizeof(T));
  b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

template <class T>
std::vector<T> to_host(const cuda::DeviceBuffer& b, size_t n) {
  std::vector<T> v(n);
  b.download(v.data(), n * sizeof(T));
  return v;
}

}  // namespace bp::kern::cudatest

// Kernel parity tests start with this: they skip, with the reason, in the emulation build and without a GPU.
#define BP_REQUIRE_GPU()                                                                              \
  do {                                                                                                \
    if (const char* emu_ = ::bp::kern::cudatest::kernel_parity_skip_reason()) GTEST_SKIP() << emu_;   \
    std::string why_;                                                                                 \
    if (!::bp::kern::cuda::device_available(&why_)) GTEST_SKIP() << "no CUDA device: " << why_;       \
  } while (0)
