#include <stdexcept>

#include "harness/runtime/device_session.h"

#if defined(BENCH_HAVE_CUDA)
#include "kernels/cuda/kv_cuda.h"
#endif

namespace bp::rt {

const char* device_name(Device d) { return d == Device::Cuda ? "cuda" : "cpu"; }

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") return Device::Cuda;
  throw std::invalid_argument("unknown device \"" + s + "\"; expected \"cpu\" or \"cuda\"");
}

bool device_available(Device d, std::string* why) {
  if (d == Device::Cpu) return true;
#if defined(BENCH_HAVE_CUDA)
  std::string reason;
  if (kern::cuda::device_available(&reason)) return true;
  if (why) *why = "no usable CUDA device: " + reason;
  return false;
#else
  if (why) *why = "this build has no CUDA backend (nvcc was not found at configure time, or -DBENCH_CUDA=OFF)";
  return false;
#endif
}

}  // namespace bp::rt
