// snapkv (issue 5): observation-window voting + pooling + per-KV-head top-k at prefill, tokens really dropped.
// Algorithm, capacity rules and byte accounting: snapkv_cache.h. Defaults per methods.md §7 (w 32, C 2048, kernel
// 5, avgpool; the LongBench configs use kernel 7 maxpool and C 1024/2048/4096).
// The kernel matters for spans of several tokens: SmolLM2 writes a 5-digit passkey as 5 tokens and the votes land
// on its first digits; with kernel 5 avgpool at 20 % capacity the last digit is often dropped ("9611." for
// 96114), kernel 7 maxpool or wider keeps it. Sweep kernel/pooling with the capacity.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/storage_param.h"
#include "methods/snapkv/snapkv_cache.h"
#include "methods/snapkv/snapkv_device_cache.h"

namespace {

constexpr long long kCapacity = 2048;
constexpr double kCapacityRatio = 0.2;

bp::methods::snapkv::Config config(const bp::Params& p) {
  bp::methods::snapkv::Config c;
  c.ratio = p.get_string("budget") == "ratio";
  c.capacity = p.get_int("capacity");
  c.capacity_ratio = p.get_float("capacity_ratio");
  c.window = (int)p.get_int("window");
  c.kernel = (int)p.get_int("kernel");
  c.pooling = p.get_string("pooling") == "maxpool" ? bp::methods::snapkv::Pooling::Max
                                                   : bp::methods::snapkv::Pooling::Avg;
  return c;
}

}  // namespace

BENCH_REGISTER_METHOD(snapkv) {
  using namespace bp;
  MethodInfo m;
  m.name = "snapkv";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description = "SnapKV: at prefill keep, per KV head, the prefix tokens the last prompt queries vote for + the window";
  m.schema = ParamSchema()
                 .enumeration("budget", "tokens", {"tokens", "ratio"},
                              "tokens: capacity C = `capacity` tokens (the reference's max_capacity_prompt); ratio: "
                              "C = floor(capacity_ratio x prompt length)")
                 .integer("capacity", kCapacity, 2, 1 << 24,
                          "budget=tokens: tokens kept per KV head after the prefill (window included); prompts not "
                          "longer are kept whole")
                 .real("capacity_ratio", kCapacityRatio, 0.0, 1.0,
                       "budget=ratio: kept fraction of the prompt (floor; window included, capped to C)")
                 .integer("window", 32, 1, 4096,
                          "observation window: the last prompt tokens whose queries vote (always kept)")
                 .integer("kernel", 5, 1, 63, "pooling kernel over the token axis (odd; 1 = no pooling)")
                 .enumeration("pooling", "avgpool", {"avgpool", "maxpool"}, "1-D pooling of the votes (stride 1)");
  rt::kv::add_storage_params(m.schema, "fp16");
  m.notes =
      std::string("budget=tokens requires capacity > window and capacity_ratio at its default; budget=ratio "
                  "requires capacity at its default and capacity_ratio > 0; kernel must be odd. Keys post-RoPE; "
                  "decode tokens are appended without eviction. ") +
      rt::kv::storage_composition_text() +
      " On the CUDA backend: storage fp16 only.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    rt::kv::validate_storage_params(p, file, ptr);
    auto reject = [&](const char* name, const std::string& why) {
      throw InputError(file, rt::kv::param_pointer(ptr, name), why);
    };
    if (p.get_int("kernel") % 2 == 0)
      reject("kernel", "expected an odd pooling kernel (padding kernel/2 keeps one pooled vote per token), got " +
                           std::to_string(p.get_int("kernel")));
    if (p.get_string("budget") == "tokens") {
      if (p.get_float("capacity_ratio") != kCapacityRatio)
        reject("capacity_ratio", "capacity_ratio applies to budget \"ratio\"; expected it left at its default with "
                                 "budget \"tokens\"");
      if (p.get_int("capacity") <= p.get_int("window"))
        reject("capacity", "expected capacity > window (" + std::to_string(p.get_int("window")) +
                               "): the kept prefix is capacity - window tokens, got capacity " +
                               std::to_string(p.get_int("capacity")));
    } else {
      if (p.get_int("capacity") != kCapacity)
        reject("capacity", "capacity applies to budget \"tokens\"; expected it left at its default (" +
                               std::to_string(kCapacity) + ") with budget \"ratio\"");
      if (p.get_float("capacity_ratio") <= 0.0)
        reject("capacity_ratio", "expected capacity_ratio > 0 (a capacity of zero tokens keeps nothing)");
    }
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    return std::make_unique<methods::snapkv::SnapKvCache>(ctx.geometry,
                                                          rt::kv::storage_format(p, ctx.geometry.head_dim), config(p));
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    rt::kv::require_fp16_storage_on_device(p, "snapkv");
    return std::make_unique<methods::snapkv::DeviceSnapKvCache>(ctx.device_geometry, config(p));
  };
#endif
  return m;
}
