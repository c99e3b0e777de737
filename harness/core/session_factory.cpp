#include "harness/core/session_factory.h"

#include <fmt/format.h>

#include "harness/core/error.h"
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
  MethodContext mc;
  mc.geometry = model.kv_geometry(threads_);
  mc.config = &model.config();
  mc.seed = seed_;
  // Methods without a KV cache of their own (weight and token methods) keep the full-precision cache.
  const MethodInfo* cache_method = &mi;
  Params cache_params = params;
  if (!mi.make_kv_cache && !mi.make_device_kv_cache) {
    cache_method = MethodRegistry::find(kReferenceMethod);
    if (!cache_method)
      throw std::runtime_error(fmt::format("the reference method \"{}\" is not registered", kReferenceMethod));
    cache_params = Params(cache_method->schema.canonicalize(json::object(), "", ""));
  }

  if (device_ == rt::Device::Cpu) {
    if (!cache_method->make_kv_cache)
      throw InputError(source_, pointer_, fmt::format("method \"{}\" has no CPU implementation", cache_method->name));
    rt::TokenSelector* sel = nullptr;
    if (mi.make_token_selector) {
      selectors_.push_back(mi.make_token_selector(mc, params));
      sel = selectors_.back().get();
    }
    return std::make_unique<rt::Session>(model, cache_method->make_kv_cache(mc, cache_params), threads_, sel);
  }

#if defined(BENCH_HAVE_CUDA)
  if (!cache_method->make_device_kv_cache)
    throw InputError(source_, pointer_,
                     fmt::format("method \"{}\" has no CUDA implementation (it runs on the CPU backend)",
                                 cache_method->name));
  if (mi.make_token_selector)
    throw InputError(source_, pointer_, fmt::format("method \"{}\" selects tokens, which only the CPU backend "
                                                    "supports", mi.name));
  auto cm = rt::cuda::upload(model);
  mc.device_geometry = rt::cuda::device_geometry(*cm);
  return std::make_unique<rt::Session>(
      model, rt::cuda::make_session(cm, cache_method->make_device_kv_cache(mc, cache_params)), threads_);
#else
  throw InputError(source_, pointer_, "this build has no CUDA backend");
#endif
}

std::unique_ptr<rt::Session> SessionFactory::make_reference(const rt::Model& model) {
  const MethodInfo* ref = MethodRegistry::find(kReferenceMethod);
  if (!ref) throw std::runtime_error(fmt::format("the reference method \"{}\" is not registered", kReferenceMethod));
  return make(model, *ref, Params(ref->schema.canonicalize(json::object(), "", "")));
}

}  // namespace bp
