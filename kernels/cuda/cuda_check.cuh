#pragma once
// Error checking for every CUDA runtime call and kernel launch of kernels/cuda: failures throw
// std::runtime_error("<file>:<line>: <call>: <cudaGetErrorString>"). Device-side only (included by .cu files).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace bp::kern::cuda {

[[noreturn]] inline void cuda_fail(cudaError_t e, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                           cudaGetErrorString(e));
}

}  // namespace bp::kern::cuda

#define BP_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    const cudaError_t bp_cuda_err_ = (call);                                         \
    if (bp_cuda_err_ != cudaSuccess)                                                 \
      ::bp::kern::cuda::cuda_fail(bp_cuda_err_, #call, __FILE__, __LINE__);          \
  } while (0)

// After a kernel launch: launch-configuration errors now, execution errors at the synchronization.
#define BP_CUDA_CHECK_LAUNCH()                     \
  do {                                             \
    BP_CUDA_CHECK(cudaGetLastError());             \
    BP_CUDA_CHECK(cudaDeviceSynchronize());        \
  } while (0)
