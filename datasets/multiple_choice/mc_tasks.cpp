// The multiple-choice tasks, all one implementation (lm-evaluation-harness log-likelihood scoring, common/
// multiple_choice.h) over one loader (a JSON Lines file and a field mapping, mc_mapping.h):
//   - `multiple-choice`: any dataset; the suite gives the file, its sha256 and the mapping as options;
//   - `piqa`, `arc-challenge`, `arc-easy`, `hellaswag`: presets, i.e. the same task with a fixed mapping written
//     below as data (and, for the first two, the files `bench fetch-data` provides). Their options are only the
//     subset's (and the user-supplied file's), so their configurations keep the identity they always had.
#include <fmt/format.h>

#include "datasets/common/multiple_choice.h"
#include "datasets/common/user_file.h"
#include "datasets/multiple_choice/mc_files.h"
#include "datasets/multiple_choice/mc_mapping.h"
#include "harness/core/registry.h"

namespace bp::data {
namespace {

// The presets' mappings (option values of `multiple-choice`), as lm-evaluation-harness's task definitions form
// the prompts: PIQA "Question: <goal>\nAnswer:" with sol1/sol2 and a separate labels file; ARC "Question:
// <stem>\nAnswer:" with the choice whose label is answerKey; HellaSwag "<activity_label>: <ctx_a> <Ctx_b>" with
// the harness's clean-up, keyed by the dataset's "ind".
const json& presets() {
  static const json p = json::parse(R"({
    "piqa": {"context": "Question: {goal}\nAnswer:", "choices": ["{sol1}", "{sol2}"], "label_kind": "index"},
    "arc": {"context": "Question: {question/stem}\nAnswer:", "choices_array": "question/choices",
            "choice_text": "text", "choice_label": "label", "label": "answerKey", "label_kind": "choice_label",
            "key": "{id}"},
    "hellaswag": {"context": "{activity_label}: {ctx_a} {ctx_b|capitalize}", "choices_array": "endings",
                  "label": "label", "label_kind": "index", "key": "{ind}", "preprocess": "hellaswag"}
  })");
  return p;
}

// A preset's mapping, through the generic task's own schema (so a preset is exactly a set of option values).
McMapping preset_mapping(const std::string& name) {
  ParamSchema s;
  add_mapping_options(s, presets().at(name));
  return mapping_of(Params(s.canonicalize(json::object(), "", "")));
}

TaskInfo mc_task(std::string name, std::string description) {
  TaskInfo t;
  t.name = std::move(name);
  t.description = std::move(description);
  t.protocol = "lm-eval-loglikelihood";
  t.protocol_version = 1;
  t.metrics = multiple_choice_metrics();
  return t;
}

}  // namespace

const McMapping& mc_preset(const std::string& name) {
  static const std::map<std::string, McMapping> all = [] {
    std::map<std::string, McMapping> m;
    for (auto it = presets().begin(); it != presets().end(); ++it) m[it.key()] = preset_mapping(it.key());
    return m;
  }();
  return all.at(name);
}

}  // namespace bp::data

BENCH_REGISTER_TASK(multiple_choice) {
  bp::TaskInfo t = bp::data::mc_task(
      "multiple-choice",
      "any multiple-choice dataset in JSON Lines, described by a field mapping in the suite (file, sha256, context, "
      "choices, label, ...): log-likelihood scoring with lm-evaluation-harness conventions, acc and acc_norm");
  bp::data::add_mapping_options(t.options, bp::json::object());
  bp::data::add_subset_options(t.options, 0);
  t.validate = bp::data::validate_mapping;
  t.data_files = bp::data::mapping_files;
  t.make = [](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    std::vector<bp::DataFile> files = bp::data::mapping_files(p);
    std::optional<bp::DataFile> labels;
    if (files.size() > 1) labels = files[1];
    bp::data::McMapping m = bp::data::mapping_of(p);
    return std::make_unique<bp::data::MultipleChoiceTask>([m, records = files[0], labels](const bp::TaskContext& ctx) {
      return bp::data::load_mapped(ctx.data_root, m, records, labels);
    });
  };
  return t;
}

BENCH_REGISTER_TASK(piqa) {
  bp::TaskInfo t = bp::data::mc_task(
      "piqa", "PIQA validation (1,838 items): 2-way multiple choice by log-likelihood, acc and acc_norm");
  bp::data::add_subset_options(t.options, 0);
  t.data_files = [](const bp::Params&) {
    return std::vector<bp::DataFile>{bp::data::kPiqaQuestions, bp::data::kPiqaLabels};
  };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::MultipleChoiceTask>([](const bp::TaskContext& ctx) {
      return bp::data::load_mapped(ctx.data_root, bp::data::mc_preset("piqa"), bp::data::kPiqaQuestions,
                                   bp::data::kPiqaLabels);
    });
  };
  return t;
}

BENCH_REGISTER_TASK(arc_challenge) {
  bp::TaskInfo t = bp::data::mc_task(
      "arc-challenge", "ARC-Challenge test (1,172 items): multiple choice by log-likelihood, acc and acc_norm");
  bp::data::add_subset_options(t.options, 0);
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{bp::data::kArcChallengeTest}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::MultipleChoiceTask>([](const bp::TaskContext& ctx) {
      return bp::data::load_mapped(ctx.data_root, bp::data::mc_preset("arc"), bp::data::kArcChallengeTest,
                                   std::nullopt);
    });
  };
  return t;
}

namespace {

// A preset over a file the user supplies (options file and sha256, checked like any data file).
bp::TaskInfo user_file_preset(std::string name, std::string description, const std::string& default_path,
                              std::string preset) {
  bp::TaskInfo t = bp::data::mc_task(std::move(name), std::move(description));
  bp::data::add_user_file_options(t.options, default_path);
  bp::data::add_subset_options(t.options, 0);
  t.validate = bp::data::validate_user_file;
  t.data_files = [](const bp::Params& p) { return std::vector<bp::DataFile>{bp::data::user_file(p)}; };
  t.make = [preset](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    bp::DataFile f = bp::data::user_file(p);
    return std::make_unique<bp::data::MultipleChoiceTask>([f, preset](const bp::TaskContext& ctx) {
      return bp::data::load_mapped(ctx.data_root, bp::data::mc_preset(preset), f, std::nullopt);
    });
  };
  return t;
}

}  // namespace

BENCH_REGISTER_TASK(arc_easy) {
  return user_file_preset("arc-easy",
                          "ARC-Easy (a user-supplied jsonl in the AI2 format, e.g. ARC-Easy-Test.jsonl): multiple "
                          "choice by log-likelihood, acc and acc_norm",
                          "arc-easy/ARC-Easy-Test.jsonl", "arc");
}

BENCH_REGISTER_TASK(hellaswag) {
  return user_file_preset("hellaswag",
                          "HellaSwag (a user-supplied jsonl, e.g. hellaswag_val.jsonl, with its sha256): 4-way "
                          "multiple choice by log-likelihood with the harness's preprocessing, acc and acc_norm",
                          "hellaswag/hellaswag_val.jsonl", "hellaswag");
}
