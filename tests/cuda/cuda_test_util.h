#pragma once
// Helpers of the CUDA kernel tests: skip without a GPU (with the reason), and copies between std::vector and
// device buffers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cuda/kv_cuda.h"

#define BP_REQUIRE_GPU()                                                                          \
  do {                                                                                            \
    std::string why_;                                                                             \
    if (!::bp::kern::cuda::device_available(&why_)) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

namespace bp::kern::cudatest {

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
