// fp16: the full-precision KV-cache baseline every compression method is compared with. Keys (post-RoPE) and values
// are stored as IEEE half per (layer, KV head, token): 2·L·Hkv·D·2 bytes per token (23,040 B on SmolLM2-135M).
#include "harness/core/registry.h"
#include "harness/runtime/dense_kv_cache.h"
#if defined(BENCH_HAVE_CUDA)
#include "harness/runtime/cuda/device_dense_kv_cache.h"
#endif

BENCH_REGISTER_METHOD(fp16) {
  bp::MethodInfo m;
  m.name = "fp16";
  m.roles = {bp::Role::KvCache};
  m.composes.partners = {bp::Role::Weights, bp::Role::Tokens};
  m.description = "full-precision baseline: post-RoPE keys and values stored as FP16, no compression";
  m.notes = "Baseline: alone on the unmodified model it is the reference for KL divergence. Runs on the CPU and "
            "CUDA backends.";
  m.make_kv_cache = [](const bp::MethodContext& ctx, const bp::Params&) -> std::unique_ptr<bp::rt::KvCache> {
    return std::make_unique<bp::rt::DenseKvCache>(ctx.geometry, bp::rt::DenseKvType::F16);
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const bp::MethodContext& ctx,
                              const bp::Params&) -> std::unique_ptr<bp::rt::DeviceKvCache> {
    return std::make_unique<bp::rt::cuda::DeviceDenseKvCache>(ctx.device_geometry);
  };
#endif
  return m;
}
