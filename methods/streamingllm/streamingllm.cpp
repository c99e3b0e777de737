// streamingllm (issue 5): attention sinks + a recent window, keys cached pre-RoPE and rotated at in-cache positions.
// Algorithm, positions and byte accounting: streaming_cache.h.
// DEFAULT WINDOW: 1020 (cache = 4 sinks + 1020 = 1024 tokens), not the paper's example 2000: our retrieval
// contexts are 1k-8k tokens, and a 2004-token cache would keep a 2k prompt whole (no eviction, nothing measured);
// 1024 tokens halve a 2k prompt, keep a quarter of 4k and an eighth of 8k. Sweep window in {252, 508, 1020, 2044}.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/storage_param.h"
#include "methods/streamingllm/streaming_cache.h"
#include "methods/streamingllm/streaming_device_cache.h"

BENCH_REGISTER_METHOD(streamingllm) {
  using namespace bp;
  MethodInfo m;
  m.name = "streamingllm";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description = "StreamingLLM: first `sinks` tokens + last `window` tokens, pre-RoPE keys at in-cache positions";
  m.schema = ParamSchema()
                 .integer("sinks", 4, 0, 1024, "attention-sink tokens kept from the start of the sequence")
                 .integer("window", 1020, 1, 1 << 24,
                          "recent tokens kept (cache = sinks + window tokens per KV head after every call)");
  rt::kv::add_storage_params(m.schema, "fp16");
  m.notes =
      std::string("Keys are cached pre-RoPE and rotated at in-cache positions at every step (RoPE models only). "
                  "sinks 0 is a plain sliding window with re-assigned positions. ") +
      rt::kv::storage_composition_text() +
      " With quantized storage the pre-RoPE keys are quantized. On the CUDA backend: storage fp16 only.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    rt::kv::validate_storage_params(p, file, ptr);
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    methods::streamingllm::Config c;
    c.sinks = p.get_int("sinks");
    c.window = p.get_int("window");
    return std::make_unique<methods::streamingllm::StreamingCache>(
        ctx.geometry, rt::kv::storage_format(p, ctx.geometry.head_dim), c);
  };
#if defined(BENCH_HAVE_CUDA)
  // CUDA backend: FP16 storage only (streaming_device_cache.h).
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    rt::kv::require_fp16_storage_on_device(p, "streamingllm");
    methods::streamingllm::Config c;
    c.sinks = p.get_int("sinks");
    c.window = p.get_int("window");
    return std::make_unique<methods::streamingllm::DeviceStreamingCache>(ctx.device_geometry, c);
  };
#endif
  return m;
}
