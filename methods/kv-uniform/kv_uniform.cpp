// kv-uniform: uniform KV quantization, the baseline of methods.md §7 ("Uniform INT8/INT4 per-token", with the
// per-channel and group variants issue 5 asks for). Keys (post-RoPE) and values both use the chosen scheme:
//   axis=token:   each (token, KV head) is quantized on arrival; groups of `group` consecutive channels share one
//                 FP16 scale (+ FP16 min unless symmetric); group 0 = the whole head (one scale per token-head).
//                 Tokens are independent: no window, nothing held in full precision.
//   axis=channel: each channel is quantized over groups of `group` consecutive TOKENS (KIVI-style statistics, for
//                 keys and values alike). A group can only be quantized once its `group` tokens exist, so the
//                 tokens of the incomplete last group stay FP16 (fewer than `group` per head) and are counted as
//                 `window` bytes; when the group fills it is quantized from those FP16 values and the buffer empties.
// Codes are packed b-bit (kernels/common/kv_layout.h) and read directly by the packed attention kernel.
// Bytes per token-head (D = 64, asymmetric, group 0): 8 b: 64 + 64 codes + 8 stats = 136 B (1.88× vs FP16's 256 B);
// 4 b: 72 B (3.56×); 2 b: 40 B (6.4×). Group 32 adds 4 B per side; symmetric drops the mins.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/split_kv_cache.h"
#include "harness/runtime/kv/storage_param.h"
#include "harness/runtime/kv/token_store_cache.h"
#if defined(BENCH_HAVE_CUDA)
#include "harness/runtime/cuda/device_packed_kv_cache.h"
#include "harness/runtime/cuda/device_split_kv_cache.h"
#endif

namespace bp::methods::kv_uniform {
namespace {

using rt::kv::SplitKv;

// Per-channel groups of G tokens: quantize every complete group, keep the incomplete one in FP16. Both sides hold
// the same FP16 rows, so both flush the same count (CPU and CUDA caches share this rule).
int64_t complete_groups(int64_t fp16_rows, int64_t group) { return fp16_rows / group * group; }

class ChannelGroupCache : public rt::kv::SplitKvCache {
 public:
  ChannelGroupCache(const rt::KvGeometry& g, const kern::KvLayout& kl, const kern::KvLayout& vl)
      : SplitKvCache(g, kl, vl), group_(kl.group) {}

 protected:
  void settle(SplitKv& s, const rt::StoreBatch&) override {
    const int64_t full = complete_groups(s.keys().fp16(), group_);
    s.keys().flush(full);
    s.values().flush(full);
  }

 private:
  int group_;
};

#if defined(BENCH_HAVE_CUDA)
class DeviceChannelGroupCache : public rt::cuda::DeviceSplitKvCache {
 public:
  DeviceChannelGroupCache(const rt::DeviceGeometry& g, const kern::KvLayout& kl, const kern::KvLayout& vl)
      : DeviceSplitKvCache(g, kl, vl), group_(kl.group) {}

 protected:
  Flush settle(int64_t key_fp16, int64_t) const override {
    const int64_t full = complete_groups(key_fp16, group_);
    return {full, full};
  }

 private:
  int group_;
};
#endif

}  // namespace
}  // namespace bp::methods::kv_uniform

BENCH_REGISTER_METHOD(kv_uniform) {
  using namespace bp;
  MethodInfo m;
  m.name = "kv-uniform";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description = "uniform b-bit KV quantization (8/4/2), per-token or per-channel groups, symmetric or asymmetric";
  m.schema = ParamSchema()
                 .integer_of("bits", 4, {2, 4, 8}, "bits per key/value element")
                 .enumeration("axis", "token", {"token", "channel"},
                              "token: groups of channels within one token (quantized on arrival); channel: groups of "
                              "tokens within one channel (the incomplete last group stays FP16, counted as window)")
                 .integer_of("group", 0, {0, 32, 64, 128},
                             "axis=token: channels per scale group, 0 = whole head (must divide head_dim); "
                             "axis=channel: tokens per group (32, 64 or 128; 0 is not allowed)")
                 .boolean("symmetric", false, "symmetric absmax scales (no mins stored) instead of asymmetric min-max");
  m.notes =
      "Keys and values use the same scheme. axis=channel requires group 32, 64 or 128 (tokens per group); "
      "axis=token accepts group 0 (whole head) or a divisor of head_dim. Eviction + per-token quantization is "
      "available through the eviction methods' `storage` parameter.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    if (p.get_string("axis") == "channel" && p.get_int("group") == 0)
      throw InputError(file, rt::kv::param_pointer(ptr, "group"),
                       "axis \"channel\" quantizes groups of tokens: expected group 32, 64 or 128, got 0");
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    namespace ku = methods::kv_uniform;
    const int bits = (int)p.get_int("bits"), group = (int)p.get_int("group"), D = ctx.geometry.head_dim;
    const bool sym = p.get_bool("symmetric");
    if (p.get_string("axis") == "token") {
      const rt::kv::TokenFormat f = rt::kv::TokenFormat::quantized(bits, group, sym);
      if (const char* e = f.error(D))
        throw InputError("", "/params/group", "group " + std::to_string(group) + " with head_dim " +
                                                  std::to_string(D) + ": " + e);
      return std::make_unique<rt::kv::TokenStoreCache>(ctx.geometry, f);
    }
    if (group == 0) throw InputError("", "/params/group", "axis \"channel\" needs group 32, 64 or 128");
    return std::make_unique<ku::ChannelGroupCache>(
        ctx.geometry, kern::make_kv_layout(kern::KvRole::Keys, D, bits, kern::KvAxis::PerChannel, group, sym),
        kern::make_kv_layout(kern::KvRole::Values, D, bits, kern::KvAxis::PerChannel, group, sym));
  };
#if defined(BENCH_HAVE_CUDA)
  // On the CUDA backend: the same packed layouts, quantized and read by the CUDA kernels.
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    namespace ku = methods::kv_uniform;
    const int bits = (int)p.get_int("bits"), group = (int)p.get_int("group"), D = ctx.device_geometry.head_dim;
    const bool sym = p.get_bool("symmetric");
    if (p.get_string("axis") == "token") {
      if (const char* e = rt::kv::TokenFormat::quantized(bits, group, sym).error(D))
        throw InputError("", "/params/group", "group " + std::to_string(group) + " with head_dim " +
                                                  std::to_string(D) + ": " + e);
      return std::make_unique<rt::cuda::DevicePackedKvCache>(ctx.device_geometry, bits, group, sym);
    }
    if (group == 0) throw InputError("", "/params/group", "axis \"channel\" needs group 32, 64 or 128");
    return std::make_unique<ku::DeviceChannelGroupCache>(
        ctx.device_geometry, kern::make_kv_layout(kern::KvRole::Keys, D, bits, kern::KvAxis::PerChannel, group, sym),
        kern::make_kv_layout(kern::KvRole::Values, D, bits, kern::KvAxis::PerChannel, group, sym));
  };
#endif
  return m;
}
