#pragma once
// Multiple choice by log-likelihood with lm-evaluation-harness conventions (protocols.md): each candidate
// continuation (" " + choice) is scored by the sum of its tokens' log-probabilities given the context; acc takes the
// highest sum, acc_norm the highest sum per character of the choice's text (the harness divides by len(choice), the
// delimiter not counted). Under KV compression the context is
// prefilled through the configuration's cache and the continuation decoded (one decode call, all logits) attending
// to it, so the continuation's log-probabilities see the compressed context.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/core/task.h"

namespace bp::data {

struct McItem {
  std::string key;                  // stable item key for paired comparisons (the dataset's id, or its line)
  std::string context;              // e.g. "Question: ...\nAnswer:"
  std::vector<std::string> choices; // choice texts (e.g. sol1); acc_norm divides by their length in characters
  int gold = 0;                     // index into choices
  std::string delimiter = " ";      // the harness's target_delimiter: the continuation scored is delimiter + choice
};

// Context and continuation token ids as lm-evaluation-harness forms them: trailing whitespace of the context moves
// to the front of the continuation; whole = encode(context + continuation), context = encode(context), and the
// continuation is whole's tail beyond context's length. No special tokens, except that BOS is prepended to the
// context when the vocabulary adds BOS (as llama.cpp does; a no-op for SmolLM2); an empty context becomes [BOS]
// (or [EOS] when the vocabulary has no BOS), the harness's prefix token.
struct EncodedPair {
  std::vector<int32_t> context, continuation;
};
EncodedPair encode_pair(const rt::Tokenizer& tok, const std::string& context, const std::string& continuation);

struct ContinuationScore {
  double logprob = 0;  // sum of log p(token) over the continuation
  bool greedy = true;  // every continuation token was the argmax
};
// Scores `continuation` after `context` in a fresh session: prefill(context) -> first token's log-prob; decode(the
// continuation minus its last token, all logits) -> the others'.
ContinuationScore score_continuation(rt::Session& s, const std::vector<int32_t>& context,
                                     const std::vector<int32_t>& continuation);

// Number of Unicode code points in UTF-8 text (Python's len(), which acc_norm divides by).
size_t utf8_length(const std::string& s);

// Index of the largest value; ties go to the first (numpy's argmax).
int argmax_first(const std::vector<double>& v);

// Standard error of an accuracy p over n items: sqrt(p(1-p)/(n-1)) (lm-evaluation-harness); 0 when n < 2.
double accuracy_stderr(double p, size_t n);

// A multiple-choice task: loads its items (the loader reads and checks its data files), takes the deterministic
// subset (options `limit`, `seed`), scores every candidate, and reports acc, acc_norm with standard errors, and one
// item per question (score = acc, detail: gold, chosen, chosen_norm, acc_norm, per-choice log-probs, token counts,
// characters, greedy flags).
class MultipleChoiceTask : public Task {
 public:
  using Loader = std::function<std::vector<McItem>(const TaskContext&)>;
  explicit MultipleChoiceTask(Loader loader) : loader_(std::move(loader)) {}
  void run(TaskContext& ctx) override;

 private:
  Loader loader_;
};

// Metrics every multiple-choice task declares (for TaskInfo::metrics).
std::vector<MetricSpec> multiple_choice_metrics();
// Adds the options every multiple-choice task has: limit and seed.
void add_subset_options(ParamSchema& s, long long default_limit);

}  // namespace bp::data
