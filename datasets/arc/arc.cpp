// `arc-challenge` (shared data) and `arc-easy` (a user-supplied file in the same format, checked by its sha256):
// multiple choice by log-likelihood with lm-evaluation-harness conventions.
#include "datasets/arc/arc.h"

#include <fmt/format.h>

#include <set>

#include "datasets/common/data_file.h"
#include "datasets/common/jsonl.h"
#include "datasets/common/user_file.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"

namespace bp::data {

std::vector<McItem> load_arc(const std::string& data_root, const DataFile& file) {
  const std::string path = data_path(data_root, file.relative_path);
  std::vector<JsonlRecord> recs = parse_jsonl(read_verified(data_root, file), path);
  std::vector<McItem> items;
  std::set<std::string> ids;
  for (const JsonlRecord& r : recs) {
    McItem it;
    it.key = string_field(r, "id", path);
    if (!ids.insert(it.key).second)
      throw InputError(path, record_pointer(r, "id"), fmt::format("expected unique ids, got \"{}\" twice", it.key));
    const json& q = object_field(r, "question", path);
    const std::string qp = record_pointer(r, "question");
    if (!q.contains("stem") || !q["stem"].is_string())
      throw InputError(path, qp + "/stem", "expected a string");
    if (!q.contains("choices") || !q["choices"].is_array() || q["choices"].size() < 2)
      throw InputError(path, qp + "/choices", "expected an array of at least 2 choices");
    const std::string answer = string_field(r, "answerKey", path);
    it.context = "Question: " + q["stem"].get<std::string>() + "\nAnswer:";
    it.gold = -1;
    for (size_t i = 0; i < q["choices"].size(); ++i) {
      const json& c = q["choices"][i];
      const std::string cp = qp + "/choices/" + std::to_string(i);
      if (!c.is_object() || !c.contains("text") || !c["text"].is_string() || !c.contains("label") ||
          !c["label"].is_string())
        throw InputError(path, cp, "expected an object with string fields \"text\" and \"label\"");
      if (c["label"].get<std::string>() == answer) it.gold = (int)i;
      it.choices.push_back(c["text"].get<std::string>());
    }
    if (it.gold < 0)
      throw InputError(path, record_pointer(r, "answerKey"),
                       fmt::format("expected the label of one of the choices, got \"{}\"", answer));
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(arc_challenge) {
  bp::TaskInfo t;
  t.name = "arc-challenge";
  t.description = "ARC-Challenge test (1,172 items): multiple choice by log-likelihood, acc and acc_norm";
  t.protocol = "lm-eval-loglikelihood";
  t.protocol_version = 1;
  bp::data::add_subset_options(t.options, 0);
  t.metrics = bp::data::multiple_choice_metrics();
  t.data_files = [](const bp::Params&) { return std::vector<bp::DataFile>{bp::data::kArcChallengeTest}; };
  t.make = [](const bp::Params&) -> std::unique_ptr<bp::Task> {
    return std::make_unique<bp::data::MultipleChoiceTask>([](const bp::TaskContext& ctx) {
      return bp::data::load_arc(ctx.data_root, bp::data::kArcChallengeTest);
    });
  };
  return t;
}

BENCH_REGISTER_TASK(arc_easy) {
  bp::TaskInfo t;
  t.name = "arc-easy";
  t.description = "ARC-Easy (a user-supplied jsonl in the AI2 format, e.g. ARC-Easy-Test.jsonl): multiple choice by "
                  "log-likelihood, acc and acc_norm";
  t.protocol = "lm-eval-loglikelihood";
  t.protocol_version = 1;
  bp::data::add_user_file_options(t.options, "arc-easy/ARC-Easy-Test.jsonl");
  bp::data::add_subset_options(t.options, 0);
  t.metrics = bp::data::multiple_choice_metrics();
  t.validate = bp::data::validate_user_file;
  t.data_files = [](const bp::Params& p) { return std::vector<bp::DataFile>{bp::data::user_file(p)}; };
  t.make = [](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    bp::DataFile f = bp::data::user_file(p);
    return std::make_unique<bp::data::MultipleChoiceTask>(
        [f](const bp::TaskContext& ctx) { return bp::data::load_arc(ctx.data_root, f); });
  };
  return t;
}
