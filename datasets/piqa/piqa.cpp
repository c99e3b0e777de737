// `piqa`: PIQA validation split, multiple choice by log-likelihood (lm-evaluation-harness conventions).
#include "datasets/piqa/piqa.h"

#include <fmt/format.h>

#include "datasets/common/data_file.h"
#include "datasets/common/jsonl.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"

namespace bp::data {

std::vector<McItem> load_piqa(const std::string& data_root, const DataFile& questions, const DataFile& labels) {
  const std::string qpath = data_path(data_root, questions.relative_path);
  const std::string lpath = data_path(data_root, labels.relative_path);
  std::vector<JsonlRecord> recs = parse_jsonl(read_verified(data_root, questions), qpath);
  const std::string label_text = read_verified(data_root, labels);
  std::vector<std::string_view> label_lines = split_lines(label_text);
  if (label_lines.size() != recs.size())
    throw InputError(lpath, "", fmt::format("expected one label per question of {} ({} lines), got {} lines", qpath,
                                            recs.size(), label_lines.size()));
  std::vector<McItem> items;
  items.reserve(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    McItem it;
    it.key = std::to_string(i);
    it.context = "Question: " + string_field(recs[i], "goal", qpath) + "\nAnswer:";
    it.choices = {string_field(recs[i], "sol1", qpath), string_field(recs[i], "sol2", qpath)};
    if (label_lines[i] == "0") it.gold = 0;
    else if (label_lines[i] == "1") it.gold = 1;
    else
      throw InputError(lpath, "/line/" + std::to_string(i + 1),
                       fmt::format("expected 0 or 1, got \"{}\"", std::string(label_lines[i])));
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(piqa) {
  bp::TaskInfo t;
  t.name = "piqa";
  t.description = "PIQA validation (1,838 items): 2-way multiple choice by log-likelihood, acc and acc_norm";
  t.protocol = "lm-eval-loglikelihood";
  t.protocol_version = 1;
  bp::data::add_subset_options(t.options, 0);
  t.metrics = bp::data::multiple_choice_metrics();
  t.data_files = [](const bp::Params&) {
    return std::vector<bp::DataFile>{bp::data::kPiqaQuestions, bp::data::kPiqaLabels};
  };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::MultipleChoiceTask>([](const bp::TaskContext& ctx) {
      return bp::data::load_piqa(ctx.data_root, bp::data::kPiqaQuestions, bp::data::kPiqaLabels);
    });
  };
  return t;
}
