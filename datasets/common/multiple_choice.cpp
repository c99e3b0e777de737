#include "datasets/common/multiple_choice.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "datasets/common/logprob.h"
#include "datasets/common/rng.h"

namespace bp::data {

EncodedPair encode_pair(const rt::Tokenizer& tok, const std::string& context_in, const std::string& continuation_in) {
  std::string context = context_in, continuation = continuation_in;
  size_t end = context.find_last_not_of(" \t\n\r\v\f");
  size_t n_spaces = end == std::string::npos ? context.size() : context.size() - end - 1;
  if (n_spaces > 0) {
    continuation = context.substr(context.size() - n_spaces) + continuation;
    context.resize(context.size() - n_spaces);
  }
  std::vector<int32_t> whole = tok.encode(context + continuation, /*add_special=*/false, /*parse_special=*/false);
  std::vector<int32_t> ctx = tok.encode(context, false, false);
  EncodedPair p;
  if (ctx.size() < whole.size()) p.continuation.assign(whole.begin() + (ptrdiff_t)ctx.size(), whole.end());
  if (tok.add_bos() && tok.bos_id() >= 0) p.context.push_back(tok.bos_id());
  p.context.insert(p.context.end(), ctx.begin(), ctx.end());
  if (p.context.empty()) p.context.push_back(tok.bos_id() >= 0 ? tok.bos_id() : tok.eos_id());
  return p;
}

ContinuationScore score_continuation(rt::Session& s, const std::vector<int32_t>& context,
                                     const std::vector<int32_t>& continuation) {
  if (continuation.empty()) throw std::invalid_argument("score_continuation: empty continuation");
  const int V = s.model().config().vocab_size;
  ContinuationScore r;
  const float* last = s.prefill(context, rt::Logits::Last);
  r.logprob -= token_nll(last, V, continuation[0]);
  r.greedy = argmax(last, V) == continuation[0];
  if (continuation.size() > 1) {
    std::span<const int32_t> feed(continuation.data(), continuation.size() - 1);
    const float* rows = s.decode(feed, rt::Logits::All);
    for (size_t i = 1; i < continuation.size(); ++i) {
      const float* row = rows + (i - 1) * (size_t)V;
      r.logprob -= token_nll(row, V, continuation[i]);
      r.greedy = r.greedy && argmax(row, V) == continuation[i];
    }
  }
  return r;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;  // count every byte that is not a continuation byte
  return n;
}

int argmax_first(const std::vector<double>& v) {
  int best = 0;
  for (int i = 1; i < (int)v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

double accuracy_stderr(double p, size_t n) { return n < 2 ? 0.0 : std::sqrt(p * (1 - p) / (double)(n - 1)); }

std::vector<MetricSpec> multiple_choice_metrics() {
  return {{"acc", "fraction", Better::Higher},       {"acc_stderr", "fraction", Better::None},
          {"acc_norm", "fraction", Better::Higher},  {"acc_norm_stderr", "fraction", Better::None},
          {"items", "count", Better::None}};
}

void add_subset_options(ParamSchema& s, long long default_limit) {
  s.integer("limit", default_limit, 0, 1000000000,
            "evaluate this many items, drawn without replacement by a seeded shuffle and run in file order "
            "(0 = every item, in file order)")
      .integer("seed", 1234, 0, 2147483647, "seed of the subset draw, mixed with the suite's seed (a smaller limit selects a subset of a larger one)");
}

void MultipleChoiceTask::run(TaskContext& ctx) {
  std::vector<McItem> all = loader_(ctx);
  const std::vector<size_t> pick =
      choose_subset(all.size(), (size_t)ctx.options.get_int("limit"), task_seed(ctx.options.get_int("seed"), ctx.seed));
  const rt::Tokenizer& tok = ctx.model->tokenizer();
  size_t n_acc = 0, n_norm = 0;
  for (size_t done = 0; done < pick.size(); ++done) {
    const McItem& item = all[pick[done]];
    std::vector<double> lls, per_char;
    json tokens = json::array(), chars = json::array(), greedy = json::array();
    for (const std::string& choice : item.choices) {
      EncodedPair enc = encode_pair(tok, item.context, item.delimiter + choice);
      if (enc.continuation.empty())
        throw std::runtime_error(fmt::format("item {}: choice \"{}\" tokenizes to no continuation tokens", item.key, choice));
      std::unique_ptr<rt::Session> s = ctx.new_session();
      ContinuationScore sc = score_continuation(*s, enc.context, enc.continuation);
      const size_t n_chars = utf8_length(choice);
      lls.push_back(sc.logprob);
      per_char.push_back(sc.logprob / (double)std::max<size_t>(1, n_chars));
      tokens.push_back(enc.continuation.size());
      chars.push_back(n_chars);
      greedy.push_back(sc.greedy);
    }
    const int chosen = argmax_first(lls), chosen_norm = argmax_first(per_char);
    const bool ok = chosen == item.gold, ok_norm = chosen_norm == item.gold;
    n_acc += ok;
    n_norm += ok_norm;
    ctx.sink->item(item.key, ok ? 1.0 : 0.0,
                   {{"gold", item.gold}, {"chosen", chosen}, {"chosen_norm", chosen_norm}, {"acc_norm", ok_norm ? 1 : 0},
                    {"logprobs", lls}, {"tokens", tokens}, {"chars", chars}, {"greedy", greedy}});
    ctx.progress((double)(done + 1) / (double)pick.size(), fmt::format("item {}/{}", done + 1, pick.size()));
  }
  const size_t n = pick.size();
  const double acc = n ? (double)n_acc / (double)n : 0.0, acc_norm = n ? (double)n_norm / (double)n : 0.0;
  ctx.sink->metric("acc", acc, "fraction");
  ctx.sink->metric("acc_stderr", accuracy_stderr(acc, n), "fraction");
  ctx.sink->metric("acc_norm", acc_norm, "fraction");
  ctx.sink->metric("acc_norm_stderr", accuracy_stderr(acc_norm, n), "fraction");
  ctx.sink->metric("items", (double)n, "count");
}

}  // namespace bp::data
