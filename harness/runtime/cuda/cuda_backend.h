#pragma once
// The CUDA backend of the runtime: the model's weights resident on the device in FP16 (matrix products through
// cuBLAS with F32 accumulation), embedding lookup, RMSNorm, RoPE, SwiGLU, residual adds, attention through a
// DeviceKvCache, and logits copied back to the host. Built only with BENCH_HAVE_CUDA. The CPU backend stays the
// reference: tests/cuda compares every op and whole-model logits with it when a GPU is present.
#include <memory>

#include "harness/runtime/device_session.h"
#include "harness/runtime/model.h"

namespace bp::rt::cuda {

class CudaModel;

// Uploads (once per Model object; later calls share it) the model's weights to the device. Throws
// std::runtime_error when a layer is not a dense layer (weight methods run on the CPU backend only).
std::shared_ptr<CudaModel> upload(const Model& m);
// Geometry for the device KV caches of this model.
DeviceGeometry device_geometry(const CudaModel& cm);
// Device weight bytes (FP16 matrices, F32 norms and biases).
size_t device_weight_bytes(const CudaModel& cm);
// A device session running `cache`.
std::unique_ptr<DeviceSession> make_session(std::shared_ptr<CudaModel> cm, std::unique_ptr<DeviceKvCache> cache);

}  // namespace bp::rt::cuda
