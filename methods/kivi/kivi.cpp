// kivi (methods.md §7; jy-yuan/KIVI `models/llama_kivi.py`): asymmetric 2-bit KV with a full-precision residual.
//   Keys: per-channel asymmetric min-max over groups of G consecutive TOKENS (FP16 scale + min per channel and
//   group). Keys wait in an FP16 residual until R have accumulated, then the R-token block is quantized (R/G
//   groups) and the residual empties. At prefill the longest multiple-of-R prefix is quantized at once and the
//   remaining T mod R keys stay FP16 (the reference: quant = keys[:-(T % R)], full = keys[-(T % R):]).
//   Values: per-token asymmetric min-max over groups of G consecutive CHANNELS. The last R values stay FP16; each
//   step the oldest values beyond R are quantized (prefill: T <= R keeps all FP16, else the first T - R are
//   quantized). So after every call the FP16 parts hold: keys T mod R (< R), values min(T, R).
// Attention for the current tokens always uses their exact keys and values (the reference computes the step's
// attention before quantizing); stored tokens are read packed where packed: a token can have a packed key and an
// FP16 value (kv/split_kv.h splits the range and merges the partial states). Keys post-RoPE, as the reference.
// Calls with several new tokens (chunked scoring) apply the same rule per call: quantize every complete R-block of
// the key residual and every value beyond the last R, which is what token-by-token decoding would leave.
// Bytes: packed codes, FP16 scales and mins of both sides, and every FP16 residual row as `window`. Per quantized
// token-head at D = 64, 2 bit, G = 32: keys 16 B codes + 4·64/32 = 8 B stats, values 16 B + 8 B (5.33× on the
// quantized part); the FP16 window adds up to (R - 1)·128 + R·128 B per head.
#include <algorithm>
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/split_kv_cache.h"
#include "harness/runtime/kv/storage_param.h"
#include "methods/kivi/kivi_policy.h"
#if defined(BENCH_HAVE_CUDA)
#include "harness/runtime/cuda/device_split_kv_cache.h"
#endif

namespace bp::methods::kivi {
namespace {

class KiviCache : public rt::kv::SplitKvCache {
 public:
  KiviCache(const rt::KvGeometry& g, const kern::KvLayout& kl, const kern::KvLayout& vl, int residual)
      : SplitKvCache(g, kl, vl), R_(residual) {}

 protected:
  void settle(rt::kv::SplitKv& s, const rt::StoreBatch&) override {
    const KiviFlush f = kivi_flush(s.keys().fp16(), s.values().fp16(), R_);
    s.keys().flush(f.keys);
    s.values().flush(f.values);
  }

 private:
  int R_;
};

#if defined(BENCH_HAVE_CUDA)
// The same policy over the device split cache (packed parts bit-identical to the CPU's).
class DeviceKiviCache : public rt::cuda::DeviceSplitKvCache {
 public:
  DeviceKiviCache(const rt::DeviceGeometry& g, const kern::KvLayout& kl, const kern::KvLayout& vl, int residual)
      : DeviceSplitKvCache(g, kl, vl), R_(residual) {}

 protected:
  Flush settle(int64_t key_fp16, int64_t value_fp16) const override {
    const KiviFlush f = kivi_flush(key_fp16, value_fp16, R_);
    return {f.keys, f.values};
  }

 private:
  int R_;
};
#endif

struct Settings {
  kern::KvLayout keys, values;
  int residual;
};

// The layouts and residual of a parameter set for a model of head dimension D (errors name the parameter).
Settings settings(const Params& p, int D) {
  const int bits = (int)p.get_int("bits"), G = (int)p.get_int("group"), R = (int)p.get_int("residual");
  if (D % G != 0)
    throw InputError("", "/params/group",
                     "value groups of " + std::to_string(G) + " channels need G to divide head_dim " +
                         std::to_string(D));
  if (R % G != 0) throw InputError("", "/params/residual", "residual must be a multiple of group");
  return {kern::make_kv_layout(kern::KvRole::Keys, D, bits, kern::KvAxis::PerChannel, G),
          kern::make_kv_layout(kern::KvRole::Values, D, bits, kern::KvAxis::PerToken, G), R};
}

}  // namespace
}  // namespace bp::methods::kivi

BENCH_REGISTER_METHOD(kivi) {
  using namespace bp;
  MethodInfo m;
  m.name = "kivi";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description = "KIVI: per-channel keys / per-token values, asymmetric b-bit in groups of G, FP16 residual of R";
  m.schema = ParamSchema()
                 .integer_of("bits", 2, {2, 4, 8}, "bits per key and value element (KIVI-2 / KIVI-4 / 8)")
                 .integer_of("group", 32, {32, 64, 128},
                             "G: tokens per key group (per channel) and channels per value group (per token); the "
                             "value group must divide head_dim")
                 .integer("residual", 128, 32, 8192,
                          "R: FP16 residual length (keys quantized in blocks of R, the last R values kept FP16); a "
                          "multiple of group");
  m.notes =
      "residual must be a multiple of group (keys are quantized in whole groups); group must divide head_dim "
      "(value groups, checked when the cache is made).";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    const long long G = p.get_int("group"), R = p.get_int("residual");
    if (R % G != 0)
      throw InputError(file, rt::kv::param_pointer(ptr, "residual"),
                       "residual must be a multiple of group (" + std::to_string(G) + "), got " + std::to_string(R));
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    namespace mk = methods::kivi;
    const mk::Settings s = mk::settings(p, ctx.geometry.head_dim);
    return std::make_unique<mk::KiviCache>(ctx.geometry, s.keys, s.values, s.residual);
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    namespace mk = methods::kivi;
    const mk::Settings s = mk::settings(p, ctx.device_geometry.head_dim);
    return std::make_unique<mk::DeviceKiviCache>(ctx.device_geometry, s.keys, s.values, s.residual);
  };
#endif
  return m;
}
