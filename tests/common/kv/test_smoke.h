#pragma once
// Test support for KV methods (header-only; included by method tests only): build a registered method's cache from
// JSON parameters, and an end-to-end smoke run on the default model (prefill a fixed text, decode a few tokens
// greedily next to an fp16 session) reporting the compression ratio from bytes() and the top-1 agreement.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/core/registry.h"
#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/model.h"

namespace bp::rt::kv::testing {

// Canonicalized and validated parameters of a registered method (throws InputError like a suite would).
inline Params method_params(const std::string& method, const nlohmann::json& given) {
  const MethodInfo* info = MethodRegistry::find(method);
  if (!info) throw std::runtime_error("method not registered: " + method);
  Params p(info->schema.canonicalize(given, "test", "/params"));
  if (info->validate) info->validate(p, "test", "/methods/0");
  return p;
}

inline std::unique_ptr<KvCache> make_cache(const std::string& method, const nlohmann::json& given,
                                           const KvGeometry& g, uint64_t seed = 0) {
  MethodContext ctx;
  ctx.geometry = g;
  ctx.seed = seed;
  return MethodRegistry::find(method)->make_kv_cache(ctx, method_params(method, given));
}

struct SmokeResult {
  int64_t tokens = 0;       // tokens held per (layer, KV head) at the end
  size_t bytes = 0;         // method cache bytes
  size_t fp16_bytes = 0;    // fp16 baseline bytes for the same tokens
  double ratio = 0;         // fp16_bytes / bytes
  int agree = 0, steps = 0;  // greedy top-1 agreement with fp16 (teacher-forced on the fp16 choice)
  bool finite = true;
  KvBytes parts;
  nlohmann::json stats;
};

inline const Model& smoke_model(const std::string& path) {
  static std::unique_ptr<Model> m = Model::load(path, LoadOptions{WeightStorage::F32, 2});
  return *m;
}

// Prefill `repeat` copies of a fixed paragraph, then `decode` greedy steps fed with the fp16 session's choice.
inline SmokeResult smoke(const std::string& model_path, const std::string& method, const nlohmann::json& params,
                         int repeat = 3, int decode = 6, int threads = 2) {
  const Model& model = smoke_model(model_path);
  const std::string text =
      "The history of the lighthouse is long. Early towers burned wood or coal on open platforms, and keepers "
      "climbed hundreds of steps each night to tend the fire. Later, oil lamps with polished reflectors and then "
      "Fresnel lenses concentrated the light into beams visible for many miles. Today most lights are automated, "
      "and the keepers' houses have become museums, inns, or homes for artists. ";
  std::string prompt;
  for (int i = 0; i < repeat; ++i) prompt += text;
  const std::vector<int32_t> toks = model.tokenizer().encode(prompt, true, false);
  MethodContext ctx;
  ctx.geometry = model.kv_geometry(threads);
  ctx.config = &model.config();
  ctx.seed = 1;
  Session ref(model, std::make_unique<DenseKvCache>(model.kv_geometry(threads), DenseKvType::F16), threads);
  Session s(model, MethodRegistry::find(method)->make_kv_cache(ctx, method_params(method, params)), threads);
  const int V = model.config().vocab_size;
  auto argmax = [&](const float* l) { return (int32_t)(std::max_element(l, l + V) - l); };
  SmokeResult r;
  const float* lr = ref.prefill(toks);
  int32_t next_ref = argmax(lr);
  const float* ls = s.prefill(toks);
  for (int i = 0; i < decode; ++i) {
    for (int j = 0; j < V; ++j) r.finite = r.finite && std::isfinite(ls[j]);
    r.agree += argmax(ls) == next_ref;
    ++r.steps;
    const int32_t t = next_ref;
    lr = ref.decode({&t, 1});
    ls = s.decode({&t, 1});
    next_ref = argmax(lr);
  }
  r.tokens = s.cache().tokens(0, 0);
  r.parts = s.cache().bytes();
  r.bytes = r.parts.total();
  r.fp16_bytes = ref.cache().bytes().total();
  r.ratio = (double)r.fp16_bytes / (double)r.bytes;
  r.stats = s.cache().stats();
  return r;
}

}  // namespace bp::rt::kv::testing
