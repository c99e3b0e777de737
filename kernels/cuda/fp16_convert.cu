// FP16 array conversions on the device: kernels/common/fp16.h per element (the hardware conversion instructions,
// round to nearest even, the same results as the CPU paths).
#include "kernels/common/fp16.h"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/kv_cuda.h"

namespace bp::kern::cuda {

namespace {
__global__ void f32_to_f16_kernel(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = f32_to_f16(src[i]);
}
__global__ void f16_to_f32_kernel(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = f16_to_f32(src[i]);
}
unsigned blocks_for(size_t n) { return (unsigned)(n / 256 + 1 < 65535 ? n / 256 + 1 : 65535); }
}  // namespace

void f32_to_f16_array(const float* src, uint16_t* dst, size_t n) {
  if (!n) return;
  f32_to_f16_kernel<<<blocks_for(n), 256>>>(src, dst, n);
  BP_CUDA_CHECK_LAUNCH();
}

void f16_to_f32_array(const uint16_t* src, float* dst, size_t n) {
  if (!n) return;
  f16_to_f32_kernel<<<blocks_for(n), 256>>>(src, dst, n);
  BP_CUDA_CHECK_LAUNCH();
}

}  // namespace bp::kern::cuda
