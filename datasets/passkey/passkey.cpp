// `passkey`: a 5-digit key hidden at chosen depths in repeated filler, retrieved by greedy generation.
#include "datasets/passkey/passkey.h"

#include <cmath>
#include <random>

#include "datasets/common/rng.h"
#include "harness/core/registry.h"

namespace bp::data {
namespace {

const char* const kInstruction =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you "
    "about the important information there.";
const char* const kFiller[] = {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                               "There and back again."};
const char* const kQuestion = "What is the pass key? The pass key is";

// The first n sentences of the endless filler, separated by spaces.
std::string filler(int64_t n) {
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kFiller[i % 5];
  }
  return s;
}

}  // namespace

PromptBuilder passkey_builder(uint64_t item_seed, double depth) {
  std::mt19937_64 g(item_seed);
  const std::string key = std::to_string(uniform_between(g, 10000, 99999));
  return [key, depth](int64_t units) {
    const int64_t before = std::llround(depth * (double)units);
    RetrievalPrompt p;
    p.text = std::string(kInstruction) + "\n" + filler(before) + "\nThe pass key is " + key + ". Remember it. " + key +
             " is the pass key.\n" + filler(units - before) + "\n" + kQuestion;
    p.answer = key;
    p.detail = {{"sentences_before", before}, {"sentences_after", units - before}};
    return p;
  };
}

bool passkey_correct(const std::string& generation, const std::string& key) {
  return generation.find(key) != std::string::npos;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(passkey) {
  bp::TaskInfo t;
  t.name = "passkey";
  t.description = "passkey retrieval (Landmark Attention test): a 5-digit key at chosen depths in filler of a given "
                  "token length, exact match of the greedy continuation";
  t.protocol = "passkey";
  t.protocol_version = 1;
  bp::data::add_retrieval_options(t.options, 10);
  t.metrics = bp::data::retrieval_metrics();
  t.validate = bp::data::validate_retrieval;
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    bp::data::RetrievalSpec spec;
    spec.task = "passkey";
    spec.make_builder = bp::data::passkey_builder;
    spec.correct = bp::data::passkey_correct;
    return std::make_unique<bp::data::RetrievalTask>(std::move(spec));
  };
  return t;
}
