#include "datasets/common/retrieval.h"

#include <fmt/format.h>

#include "datasets/common/generation.h"
#include "datasets/common/rng.h"
#include "harness/common/error.h"

namespace bp::data {
namespace {

std::vector<int32_t> encode_prompt(const rt::Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
  if (tok.add_bos() && tok.bos_id() >= 0) ids.insert(ids.begin(), tok.bos_id());
  return ids;
}

}  // namespace

FittedPrompt fit_to_tokens(const rt::Tokenizer& tok, const PromptBuilder& build, int64_t context) {
  auto attempt = [&](int64_t units) {
    FittedPrompt f;
    f.prompt = build(units);
    f.ids = encode_prompt(tok, f.prompt.text);
    f.units = units;
    return f;
  };
  FittedPrompt best = attempt(0);
  if ((int64_t)best.ids.size() > context)
    throw InputError("", "/options/context",
                     fmt::format("expected a context of at least {} tokens (the prompt without filler), got {}",
                                 best.ids.size(), context));
  // Exponential search for a size that does not fit, then bisection: `lo` always fits, `hi` never does.
  int64_t lo = 0, hi = 16;
  while (true) {
    FittedPrompt f = attempt(hi);
    if ((int64_t)f.ids.size() > context) break;
    lo = hi;
    best = std::move(f);
    hi *= 2;
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    FittedPrompt f = attempt(mid);
    if ((int64_t)f.ids.size() <= context) {
      lo = mid;
      best = std::move(f);
    } else {
      hi = mid;
    }
  }
  return best;
}

void add_retrieval_options(ParamSchema& s, long long default_max_new) {
  s.integer("context", 2048, 64, 1048576, "prompt length in tokens (filled with filler up to this many; sweep it)")
      .integer_list("depths_percent", {0, 25, 50, 75, 100}, 0, 100,
                    "where the fact sits, in percent of the filler before it (0 = start, 100 = end)")
      .integer("items", 2, 1, 100000, "items per depth, each with its own seed")
      .integer("seed", 1234, 0, 2147483647, "generator seed, mixed with the suite's seed: the same seeds give the same prompts")
      .integer("max_new_tokens", default_max_new, 1, 4096, "greedy tokens generated per item");
}

void validate_retrieval(const Params& p, const std::string& file, const std::string& pointer) {
  const std::vector<long long> d = p.get_int_list("depths_percent");
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (d[i] == d[j])
        throw InputError(file, json_pointer_append(json_pointer_append(pointer, "options"), "depths_percent"),
                         fmt::format("expected distinct depths, got {} twice", d[i]));
}

std::vector<MetricSpec> retrieval_metrics() {
  return {{"accuracy", "fraction", Better::Higher}, {"items", "count", Better::None},
          {"prompt_tokens", "tokens", Better::None}};
}

void RetrievalTask::run(TaskContext& ctx) {
  const int64_t context = ctx.options.get_int("context");
  const std::vector<long long> depths = ctx.options.get_int_list("depths_percent");
  const int64_t n_items = ctx.options.get_int("items");
  const uint64_t seed = task_seed(ctx.options.get_int("seed"), ctx.seed);
  const int max_new = (int)ctx.options.get_int("max_new_tokens");
  const rt::Tokenizer& tok = ctx.model->tokenizer();

  size_t total_ok = 0, total = 0;
  double prompt_tokens = 0;
  const size_t planned = depths.size() * (size_t)n_items;
  for (long long depth : depths) {
    size_t ok_here = 0;
    for (int64_t i = 0; i < n_items; ++i) {
      const uint64_t item_seed = mix_seed(seed, (uint64_t)context, (uint64_t)depth, (uint64_t)i);
      FittedPrompt f = fit_to_tokens(tok, spec_.make_builder(item_seed, (double)depth / 100.0), context);
      std::unique_ptr<rt::Session> s = ctx.new_session();
      Continuation c = greedy_continue(*s, f.ids, max_new);
      const bool ok = spec_.correct(c.text, f.prompt.answer);
      ok_here += ok;
      prompt_tokens += (double)f.ids.size();
      json detail = f.prompt.detail;
      detail["seed"] = std::to_string(item_seed);  // as text: JSON readers may not keep 64-bit integers exact
      detail["answer"] = f.prompt.answer;
      detail["generation"] = c.text;
      detail["prompt_tokens"] = f.ids.size();
      detail["units"] = f.units;
      detail["depth_percent"] = depth;
      ctx.sink->item(fmt::format("{}/{}/{}", context, depth, i), ok ? 1.0 : 0.0, detail);
      ++total;
      ctx.progress((double)total / (double)planned, fmt::format("{} {} depth {}% item {}", spec_.task, context, depth, i + 1));
    }
    total_ok += ok_here;
    ctx.sink->metric("accuracy", (double)ok_here / (double)n_items, "fraction", 0,
                     {{"context", context}, {"depth_percent", depth}});
  }
  ctx.sink->metric("accuracy", (double)total_ok / (double)total, "fraction", 0, {{"context", context}});
  ctx.sink->metric("items", (double)total, "count", 0, {{"context", context}});
  ctx.sink->metric("prompt_tokens", prompt_tokens / (double)total, "tokens", 0, {{"context", context}});
}

}  // namespace bp::data
