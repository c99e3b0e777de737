#pragma once
// Long-context retrieval tasks (passkey, lines; protocols.md): prompts generated deterministically from a seed and
// filled to a target length in tokens, a fact hidden at chosen depths, scored by exact match on a greedy
// continuation. The generator of each task supplies a PromptBuilder; this file fits it to the length, runs the
// items and reports accuracy overall and per (context, depth).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/core/task.h"

namespace bp::data {

struct RetrievalPrompt {
  std::string text;
  std::string answer;
  json detail = json::object();  // generator facts worth storing (e.g. the queried line's key)
};

// Builds one item's prompt with `units` filler units (sentences, lines); the token count must grow with units.
using PromptBuilder = std::function<RetrievalPrompt(int64_t units)>;

struct FittedPrompt {
  RetrievalPrompt prompt;
  std::vector<int32_t> ids;
  int64_t units = 0;
};

// The prompt with the most filler units whose token count (BOS as the vocabulary asks, no special-text parsing)
// is at most `context`. Throws InputError(file_label, "/options/context", ...) when even zero units do not fit.
FittedPrompt fit_to_tokens(const rt::Tokenizer& tok, const PromptBuilder& build, int64_t context);

// What a retrieval task plugs in.
struct RetrievalSpec {
  std::string task;  // for messages
  // The item's prompt builder, from the item's seed and depth (a fraction in [0, 1]).
  std::function<PromptBuilder(uint64_t item_seed, double depth)> make_builder;
  // Whether a generation answers correctly.
  std::function<bool(const std::string& generation, const std::string& answer)> correct;
};

// Options: context, depths_percent, items, seed, max_new_tokens (see add_retrieval_options). For each depth and
// each item: seed = mix(mix(seed option, suite seed), context, depth, item), prompt fitted to `context` tokens, greedy continuation of
// max_new_tokens in a fresh session of the configuration; one result item each (key "context/depth/index", score
// 1/0, detail: seed, answer, generation, prompt_tokens, units, depth) and the accuracy metrics.
class RetrievalTask : public Task {
 public:
  explicit RetrievalTask(RetrievalSpec spec) : spec_(std::move(spec)) {}
  void run(TaskContext& ctx) override;

 private:
  RetrievalSpec spec_;
};

void add_retrieval_options(ParamSchema& s, long long default_max_new);
// TaskInfo::validate: depths_percent must not repeat (each depth is one labelled metric).
void validate_retrieval(const Params& p, const std::string& file, const std::string& pointer);
std::vector<MetricSpec> retrieval_metrics();

}  // namespace bp::data
