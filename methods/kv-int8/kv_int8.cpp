// kv-int8 (issue 2): per-token symmetric INT8 KV quantization. Every (token, KV head) key and value vector is
// quantized on arrival with one absmax scale over head_dim (scale = fp16(max|x| / 127), codes stored as unsigned
// bytes with the implied min -128·scale; kernels/common/quant_math.h), really packed: D bytes of codes + one FP16
// scale per token-head and side; no full-precision window. Attention reads the int8 codes directly
// (kern::packed_attention). Keys are stored post-RoPE.
// Bytes per token on SmolLM2-135M (L=30, Hkv=3, D=64): 2 sides · 90 · (64 + 2) = 11,880 B vs 23,040 B FP16
// (1.94×); key codes/scales are allocated in 64-token tiles, so up to 63 tokens of key padding per head are counted.
#include "harness/core/registry.h"
#include "harness/runtime/kv/token_store_cache.h"
#if defined(BENCH_HAVE_CUDA)
#include "harness/runtime/cuda/device_packed_kv_cache.h"
#endif

BENCH_REGISTER_METHOD(kv_int8) {
  bp::MethodInfo m;
  m.name = "kv-int8";
  m.roles = {bp::Role::KvCache};
  m.composes.partners = {bp::Role::Weights, bp::Role::Tokens};
  m.description = "per-token symmetric INT8 KV: one FP16 absmax scale per (token, KV head), packed int8 codes";
  m.notes =
      "No parameters. For other bit widths, groups or asymmetric scales use "
      "kv-uniform; for eviction + INT8 use an eviction method with storage=int8.";
  m.make_kv_cache = [](const bp::MethodContext& ctx, const bp::Params&) -> std::unique_ptr<bp::rt::KvCache> {
    return std::make_unique<bp::rt::kv::TokenStoreCache>(ctx.geometry,
                                                         bp::rt::kv::TokenFormat::quantized(8, 0, true));
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const bp::MethodContext& ctx,
                              const bp::Params&) -> std::unique_ptr<bp::rt::DeviceKvCache> {
    return std::make_unique<bp::rt::cuda::DevicePackedKvCache>(ctx.device_geometry, 8, 0, true);
  };
#endif
  return m;
}
