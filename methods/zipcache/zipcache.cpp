// zipcache registration: parameters, cross-parameter rules and the factory. The algorithm, its byte accounting and
// where it departs from the reference code are documented in zipcache_cache.h.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/storage_param.h"
#include "methods/zipcache/zipcache_cache.h"
#include "methods/zipcache/zipcache_device_cache.h"

namespace {

bp::methods::zipcache::Config config(const bp::MethodContext& ctx, const bp::Params& p, int head_dim) {
  namespace zc = bp::methods::zipcache;
  zc::Config c;
  c.bits_high = (int)p.get_int("bits_high");
  c.bits_low = (int)p.get_int("bits_low");
  c.saliency_ratio = p.get_float("saliency_ratio");
  const std::string norm = p.get_string("normalization");
  c.normalization = norm == "paper"       ? zc::Normalization::Paper
                    : norm == "reference" ? zc::Normalization::Reference
                                          : zc::Normalization::None;
  c.exact = p.get_string("saliency") == "exact";
  c.probe_recent = p.get_float("probe_recent");
  c.probe_random = p.get_float("probe_random");
  c.streaming_gap = (int)p.get_int("streaming_gap");
  c.unimportant_count = (int)p.get_int("unimportant_count");
  c.value_group = (int)p.get_int("value_group");
  c.seed = ctx.seed;
  if (c.value_group && head_dim % c.value_group)
    throw bp::InputError("", "/params/value_group",
                         "value_group " + std::to_string(c.value_group) + " must divide head_dim " +
                             std::to_string(head_dim));
  return c;
}

}  // namespace

BENCH_REGISTER_METHOD(zipcache) {
  using namespace bp;
  MethodInfo m;
  m.name = "zipcache";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description =
      "ZipCache: salient tokens (normalized attention, probe rows) at high bits, the rest at low bits; channelwise "
      "keys, channel-separable tokenwise values; FP16 decode buffer re-compressed every streaming_gap steps";
  m.schema =
      ParamSchema()
          .integer_of("bits_high", 4, {2, 4, 8}, "bits of salient tokens (keys and values)")
          .integer_of("bits_low", 2, {2, 4, 8}, "bits of the other tokens; must not exceed bits_high")
          .real("saliency_ratio", 0.6, 0.0, 1.0, "fraction of prefill tokens kept at bits_high (per KV head)")
          .enumeration("normalization", "paper", {"paper", "reference", "none"},
                       "saliency normalizer: paper = column sum / number of probe rows that see the token; "
                       "reference = column sum / (T - j) as the reference code; none = accumulated attention")
          .enumeration("saliency", "probe", {"probe", "exact"},
                       "probe: probe rows only (recent + random); exact: every prefill row (to measure the probe "
                       "approximation)")
          .real("probe_recent", 0.05, 0.001, 1.0, "fraction of the prompt's last rows used as probes")
          .real("probe_random", 0.05, 0.0, 1.0,
                "fraction of the prompt drawn uniformly (seeded, without replacement) from the other rows as probes")
          .integer("streaming_gap", 100, 1, 100000,
                   "decode tokens buffered in FP16 before the whole cache is re-compressed")
          .integer("unimportant_count", 40, 0, 100000,
                   "of each streaming_gap buffered tokens, how many (lowest current attention) go to bits_low")
          .integer_of("value_group", 0, {0, 32, 64, 128},
                      "channels per value scale group (0 = the whole head; must divide head_dim)");
  m.notes =
      "bits_low <= bits_high; unimportant_count <= streaming_gap; saliency=exact uses every row, so probe_recent/"
      "probe_random must keep their defaults and normalization=reference (identical to paper there) is rejected.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    using rt::kv::param_pointer;
    if (p.get_int("bits_low") > p.get_int("bits_high"))
      throw InputError(file, param_pointer(ptr, "bits_low"),
                       "bits_low must not exceed bits_high (" + std::to_string(p.get_int("bits_high")) + "), got " +
                           std::to_string(p.get_int("bits_low")));
    if (p.get_int("unimportant_count") > p.get_int("streaming_gap"))
      throw InputError(file, param_pointer(ptr, "unimportant_count"),
                       "unimportant_count must not exceed streaming_gap (" + std::to_string(p.get_int("streaming_gap")) +
                           "), got " + std::to_string(p.get_int("unimportant_count")));
    if (p.get_string("saliency") == "exact") {
      for (const char* name : {"probe_recent", "probe_random"})
        if (p.get_float(name) != 0.05)
          throw InputError(file, param_pointer(ptr, name),
                           std::string(name) + " applies to saliency \"probe\" only; expected the default 0.05 "
                                               "with saliency \"exact\"");
      if (p.get_string("normalization") == "reference")
        throw InputError(file, param_pointer(ptr, "normalization"),
                         "with saliency \"exact\" the reference normalization (T - j) equals the paper's; expected "
                         "\"paper\" or \"none\"");
    }
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    return std::make_unique<methods::zipcache::ZipCache>(ctx.geometry, config(ctx, p, ctx.geometry.head_dim));
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    return std::make_unique<methods::zipcache::DeviceZipCache>(ctx.device_geometry,
                                                               config(ctx, p, ctx.device_geometry.head_dim));
  };
#endif
  return m;
}
