#include "harness/core/session_factory.h"

#include <fmt/format.h>

#include "harness/common/error.h"
#if defined(BENCH_HAVE_CUDA)
#include "harness/runtime/cuda/cuda_backend.h"
#endif

namespace bp {

SessionFactory::SessionFactory(rt::Device device, int threads, uint64_t seed, const std::string& source,
                               const std::string& pointer)
    : device_(device), threads_(threads), seed_(seed), source_(source), pointer_(pointer) {
  std::string why;
  if (!rt::device_available(device, &why))
    throw InputError(source_, pointer_, fmt::format("device \"{}\" cannot be used: {}", rt::device_name(device), why));
}

std::unique_ptr<rt::Session> SessionFactory::make(const rt::Model& model, const MethodInfo& mi, const Params& params) {
  MethodUse use{&mi, params};
  return make(model, std::vector<const MethodUse*>{&use});
}

std::unique_ptr<rt::Session> SessionFactory::make(const rt::Model& model, const std::vector<const MethodUse*>& stack) {
  MethodContext mc;
  mc.geometry = model.kv_geometry(threads_);
  mc.config = &model.config();
  mc.seed = seed_;
  const MethodUse* kv = nullptr;
  const MethodUse* tokens = nullptr;
  for (const MethodUse* u : stack) {
    if (u->info->fills(Role::KvCache)) kv = u;
    if (u->info->fills(Role::Tokens)) tokens = u;
  }
  // Stacks without a KV method (weights and/or tokens only) keep the full-precision cache.
  MethodUse reference;
  if (!kv) {
    reference.info = MethodRegistry::find(kReferenceMethod);
    if (!reference.info)
      throw std::runtime_error(fmt::format("the reference method \"{}\" is not registered", kReferenceMethod));
    reference.params = Params(reference.info->schema.canonicalize(json::object(), "", ""));
    kv = &reference;
  }
  if (tokens && !tokens->info->make_token_selector)
    throw InputError(source_, pointer_, fmt::format("method \"{}\" has no token selector", tokens->info->name));

  if (device_ == rt::Device::Cpu) {
    if (!kv->info->make_kv_cache)
      throw InputError(source_, pointer_, fmt::format("method \"{}\" has no CPU implementation", kv->info->name));
    rt::TokenSelector* sel = nullptr;
    if (tokens) {
      selectors_.push_back(tokens->info->make_token_selector(mc, tokens->params));
      sel = selectors_.back().get();
    }
    return std::make_unique<rt::Session>(model, kv->info->make_kv_cache(mc, kv->params), threads_, sel);
  }

#if defined(BENCH_HAVE_CUDA)
  if (!kv->info->make_device_kv_cache)
    throw InputError(source_, pointer_,
                     fmt::format("method \"{}\" has no CUDA implementation (it runs on the CPU backend)",
                                 kv->info->name));
  if (tokens)
    throw InputError(source_, pointer_, fmt::format("method \"{}\" selects tokens, which only the CPU backend "
                                                    "supports", tokens->info->name));
  for (const MethodUse* u : stack)
    if (u->info->fills(Role::Weights))
      throw InputError(source_, pointer_, fmt::format("method \"{}\" transforms weights, which only the CPU backend "
                                                      "runs (the CUDA backend holds dense FP16 weights)", u->info->name));
  auto cm = rt::cuda::upload(model);
  mc.device_geometry = rt::cuda::device_geometry(*cm);
  return std::make_unique<rt::Session>(
      model, rt::cuda::make_session(cm, kv->info->make_device_kv_cache(mc, kv->params)), threads_);
#else
  throw InputError(source_, pointer_, "this build has no CUDA backend");
#endif
}

// A stack without a kv-cache member runs the reference cache; the empty stack is the reference itself.
std::unique_ptr<rt::Session> SessionFactory::make_reference(const rt::Model& model) { return make(model, {}); }

}  // namespace bp
