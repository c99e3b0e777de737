// Device discovery and the owning device buffer of kv_cuda.h.
#include <utility>

#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

bool device_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why) *why = e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount returned 0 devices";
    (void)cudaGetLastError();  // reset the last-error state so later calls start clean
    return false;
  }
  return true;
}

DeviceBuffer::DeviceBuffer(size_t bytes) : n_(bytes) {
  if (bytes) BP_CUDA_CHECK(cudaMalloc(&p_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (p_) cudaFree(p_);  // no throw from a destructor; a failure here leaves nothing to recover
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (p_) cudaFree(p_);
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  if (offset + bytes > n_) throw std::out_of_range("DeviceBuffer::upload past the end");
  if (bytes) BP_CUDA_CHECK(cudaMemcpy(static_cast<char*>(p_) + offset, host, bytes, cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > n_) throw std::out_of_range("DeviceBuffer::download past the end");
  if (bytes) BP_CUDA_CHECK(cudaMemcpy(host, static_cast<const char*>(p_) + offset, bytes, cudaMemcpyDeviceToHost));
}

void DeviceBuffer::zero() {
  if (n_) BP_CUDA_CHECK(cudaMemset(p_, 0, n_));
}

}  // namespace bp::kern::cuda
