// h2o (issue 5): heavy hitters by accumulated attention + a recent window, tokens really dropped. The algorithm,
// its budget rules and its byte accounting are documented in h2o_cache.h.
// Bytes per kept token-head on SmolLM2-135M (D = 64): fp16 256 + 4 (score) + 4 (position) = 264 B. With the
// default 20 % budget a 2048-token prompt keeps 204 heavy + 204 recent tokens per (layer, KV head):
// 408 · 90 · 264 B = 9,694,080 B vs 2048 · 23,040 B fp16 = 4.87x (measured by the latency task: 4.8675x);
// storage=int4 (group 32, asymmetric): keys 7 tiles · 64 · 40 B + values 408 · 40 B + 408 · 8 B per head = 13.98x.
#include <string>

#include "harness/common/error.h"
#include "harness/core/registry.h"
#include "harness/runtime/kv/storage_param.h"
#include "methods/h2o/h2o_cache.h"
#include "methods/h2o/h2o_device_cache.h"

namespace {

constexpr double kHeavyRatio = 0.1, kRecentRatio = 0.1;
constexpr long long kHeavyTokens = 256, kRecentTokens = 256;

bp::methods::h2o::Config config(const bp::Params& p) {
  bp::methods::h2o::Config c;
  c.ratio = p.get_string("budget") == "ratio";
  c.heavy_ratio = p.get_float("heavy_ratio");
  c.recent_ratio = p.get_float("recent_ratio");
  c.heavy_tokens = p.get_int("heavy_tokens");
  c.recent_tokens = p.get_int("recent_tokens");
  return c;
}

}  // namespace

BENCH_REGISTER_METHOD(h2o) {
  using namespace bp;
  MethodInfo m;
  m.name = "h2o";
  m.roles = {Role::KvCache};
  m.composes.partners = {Role::Weights, Role::Tokens};
  m.description = "H2O: keep heavy hitters (accumulated attention) + a recent window per KV head, evict the rest";
  m.schema = ParamSchema()
                 .enumeration("budget", "ratio", {"ratio", "tokens"},
                              "ratio: heavy/recent budgets as fractions of the prompt length (the reference's "
                              "heavy_ratio/recent_ratio); tokens: fixed token counts heavy_tokens/recent_tokens")
                 .real("heavy_ratio", kHeavyRatio, 0.0, 1.0,
                       "budget=ratio: heavy-hitter budget as a fraction of the prompt (floor; >= 1 token if > 0)")
                 .real("recent_ratio", kRecentRatio, 0.0, 1.0,
                       "budget=ratio: recent-window budget as a fraction of the prompt (floor; >= 1 token if > 0); "
                       "0 = no recent window (eviction still applies)")
                 .integer("heavy_tokens", kHeavyTokens, 0, 1 << 24, "budget=tokens: heavy-hitter tokens per KV head")
                 .integer("recent_tokens", kRecentTokens, 0, 1 << 24, "budget=tokens: recent-window tokens per KV head");
  rt::kv::add_storage_params(m.schema, "fp16");
  m.notes =
      std::string("budget=ratio uses heavy_ratio/recent_ratio (heavy_tokens/recent_tokens must stay at their "
                  "defaults); budget=tokens uses heavy_tokens/recent_tokens (the ratios must stay at their "
                  "defaults); the budget must keep at least one token. Keys post-RoPE. ") +
      rt::kv::storage_composition_text() +
      " On the CUDA backend: storage fp16 only.";
  m.validate = [](const Params& p, const std::string& file, const std::string& ptr) {
    rt::kv::validate_storage_params(p, file, ptr);
    auto reject = [&](const char* name, const std::string& why) {
      throw InputError(file, rt::kv::param_pointer(ptr, name), why);
    };
    if (p.get_string("budget") == "ratio") {
      if (p.get_int("heavy_tokens") != kHeavyTokens)
        reject("heavy_tokens", "heavy_tokens applies to budget \"tokens\"; expected it left at its default (" +
                                   std::to_string(kHeavyTokens) + ") with budget \"ratio\"");
      if (p.get_int("recent_tokens") != kRecentTokens)
        reject("recent_tokens", "recent_tokens applies to budget \"tokens\"; expected it left at its default (" +
                                    std::to_string(kRecentTokens) + ") with budget \"ratio\"");
      if (p.get_float("heavy_ratio") + p.get_float("recent_ratio") <= 0.0)
        reject("heavy_ratio", "expected heavy_ratio + recent_ratio > 0 (a budget of zero tokens keeps nothing)");
      if (p.get_float("heavy_ratio") + p.get_float("recent_ratio") > 1.0)
        reject("heavy_ratio", "expected heavy_ratio + recent_ratio <= 1 (the budget is a fraction of the prompt)");
    } else {
      if (p.get_float("heavy_ratio") != kHeavyRatio)
        reject("heavy_ratio", "heavy_ratio applies to budget \"ratio\"; expected it left at its default with "
                              "budget \"tokens\"");
      if (p.get_float("recent_ratio") != kRecentRatio)
        reject("recent_ratio", "recent_ratio applies to budget \"ratio\"; expected it left at its default with "
                               "budget \"tokens\"");
      if (p.get_int("heavy_tokens") + p.get_int("recent_tokens") < 1)
        reject("heavy_tokens", "expected heavy_tokens + recent_tokens >= 1 (a budget of zero tokens keeps nothing)");
    }
  };
  m.make_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::KvCache> {
    return std::make_unique<methods::h2o::H2oCache>(ctx.geometry, rt::kv::storage_format(p, ctx.geometry.head_dim),
                                                    config(p));
  };
#if defined(BENCH_HAVE_CUDA)
  m.make_device_kv_cache = [](const MethodContext& ctx, const Params& p) -> std::unique_ptr<rt::DeviceKvCache> {
    rt::kv::require_fp16_storage_on_device(p, "h2o");
    return std::make_unique<methods::h2o::DeviceH2oCache>(ctx.device_geometry, config(p));
  };
#endif
  return m;
}
