// `lines`: LongEval line retrieval — numbered records filling the context, then a question for one record.
#include "datasets/lines/lines.h"

#include <cmath>
#include <memory>
#include <set>
#include <vector>

#include "datasets/common/generation.h"
#include "datasets/common/rng.h"
#include "harness/core/registry.h"

namespace bp::data {
namespace {

const char* const kHeader =
    "Below is a record of lines I want you to remember. Each line begins with 'line <line index>' and contains a "
    "'<REGISTER_CONTENT>' at the end of the line as a numerical value. For each line index, memorize its "
    "corresponding <REGISTER_CONTENT>. At the end of the record, I will ask you to retrieve the corresponding "
    "<REGISTER_CONTENT> of a certain line index. Now the record start:\n\n";

// The lines of one item, generated on demand in a fixed order from the item's seed.
struct LineSource {
  explicit LineSource(uint64_t seed) : g(seed) {}
  void ensure(int64_t n) {
    while ((int64_t)keys.size() < n) {
      std::string key;
      do key = pseudo_word(g) + "-" + pseudo_word(g);
      while (!used.insert(key).second);
      keys.push_back(key);
      values.push_back(std::to_string(uniform_between(g, 10000, 99999)));
    }
  }
  std::mt19937_64 g;
  std::set<std::string> used;
  std::vector<std::string> keys, values;
};

}  // namespace

std::string pseudo_word(std::mt19937_64& g) {
  static const char kConsonants[] = "bdfgklmnprstvz";
  static const char kVowels[] = "aeiou";
  const int syllables = (int)uniform_between(g, 2, 3);
  std::string w;
  for (int i = 0; i < syllables; ++i) {
    w += kConsonants[uniform_below(g, sizeof(kConsonants) - 1)];
    w += kVowels[uniform_below(g, sizeof(kVowels) - 1)];
  }
  return w;
}

PromptBuilder lines_builder(uint64_t item_seed, double depth, bool cue) {
  auto src = std::make_shared<LineSource>(item_seed);
  return [src, depth, cue](int64_t units) {
    const int64_t n = std::max<int64_t>(1, units);  // at least the queried line
    src->ensure(n);
    const int64_t q = std::llround(depth * (double)(n - 1));
    RetrievalPrompt p;
    p.text = kHeader;
    for (int64_t i = 0; i < n; ++i)
      p.text += "line " + src->keys[i] + ": REGISTER_CONTENT is <" + src->values[i] + ">\n";
    p.text += "\nNow the record is over. Tell me what is the <REGISTER_CONTENT> in line " + src->keys[q] +
              "? I need the number.";
    // The cue restates the queried record's own format up to its value, so the answer is the record's continuation.
    if (cue) p.text += "\nline " + src->keys[q] + ": REGISTER_CONTENT is <";
    p.answer = src->values[q];
    p.detail = {{"key", src->keys[q]}, {"line", q}, {"lines", n}};
    return p;
  };
}

bool lines_correct(const std::string& generation, const std::string& value) {
  std::optional<std::string> n = first_integer(generation);
  return n && *n == value;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(lines) {
  bp::TaskInfo t;
  t.name = "lines";
  t.description = "LongEval line retrieval (as in ZipCache): 'line <key>: REGISTER_CONTENT is <N>' records filling "
                  "the context, the value of the line at each depth asked for, first number of the greedy answer";
  t.protocol = "longeval-lines";
  t.protocol_version = 1;
  bp::data::add_retrieval_options(t.options, 12);
  t.options.boolean("cue", true,
                    "end the prompt with the queried record's own start, \"line <key>: REGISTER_CONTENT is <\", so a "
                    "completion model answers by continuing it (false: LongEval's bare question, for chat models)");
  t.metrics = bp::data::retrieval_metrics();
  t.validate = bp::data::validate_retrieval;
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{}; };
  t.make = [](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    const bool cue = p.get_bool("cue");
    bp::data::RetrievalSpec spec;
    spec.task = "lines";
    spec.make_builder = [cue](uint64_t seed, double depth) { return bp::data::lines_builder(seed, depth, cue); };
    spec.correct = bp::data::lines_correct;
    return std::make_unique<bp::data::RetrievalTask>(std::move(spec));
  };
  return t;
}
