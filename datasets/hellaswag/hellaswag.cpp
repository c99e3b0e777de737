// `hellaswag`: HellaSwag (a user-supplied jsonl checked by its sha256, e.g. hellaswag_val.jsonl), 4-way multiple
// choice by log-likelihood with lm-evaluation-harness's preprocessing.
#include "datasets/hellaswag/hellaswag.h"

#include <fmt/format.h>

#include <cctype>

#include "datasets/common/data_file.h"
#include "datasets/common/jsonl.h"
#include "datasets/common/user_file.h"
#include "harness/common/error.h"
#include "harness/core/registry.h"

namespace bp::data {
namespace {

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (true) {
    size_t at = s.find(from, i);
    if (at == std::string::npos) break;
    out.append(s, i, at - i);
    out += to;
    i = at + from.size();
  }
  out.append(s, i, std::string::npos);
  return out;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string s = replace_all(strip(text), " [title]", ". ");
  // Remove "[...]" spans, shortest match: an '[' up to the next ']' on the same line (the regex's '.' does not
  // match a newline). An unmatched '[' stays.
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '[') {
      size_t close = s.find_first_of("]\n", i + 1);
      if (close != std::string::npos && s[close] == ']') {
        i = close + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return replace_all(out, "  ", " ");
}

std::string capitalize_ascii(const std::string& text) {
  std::string s = text;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) continue;
    s[i] = (char)(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return s;
}

std::vector<McItem> load_hellaswag(const std::string& data_root, const DataFile& file) {
  const std::string path = data_path(data_root, file.relative_path);
  std::vector<JsonlRecord> recs = parse_jsonl(read_verified(data_root, file), path);
  std::vector<McItem> items;
  for (const JsonlRecord& r : recs) {
    McItem it;
    if (r.value.contains("ind")) {
      const json& ind = r.value["ind"];
      it.key = ind.is_string() ? ind.get<std::string>() : ind.dump();
    } else {
      it.key = "line" + std::to_string(r.line);
    }
    const std::string ctx = string_field(r, "ctx_a", path) + " " + capitalize_ascii(string_field(r, "ctx_b", path));
    it.context = hellaswag_preprocess(string_field(r, "activity_label", path) + ": " + ctx);
    const json& endings = array_field(r, "endings", path);
    if (endings.size() < 2) throw InputError(path, record_pointer(r, "endings"), "expected at least 2 endings");
    for (size_t i = 0; i < endings.size(); ++i) {
      if (!endings[i].is_string())
        throw InputError(path, record_pointer(r, "endings") + "/" + std::to_string(i), "expected a string");
      it.choices.push_back(hellaswag_preprocess(endings[i].get<std::string>()));
    }
    const json& label = field(r, "label", path);
    long long g = -1;
    if (label.is_number_integer()) g = label.get<long long>();
    else if (label.is_string() && label.get<std::string>().size() == 1 && std::isdigit((unsigned char)label.get<std::string>()[0]))
      g = label.get<std::string>()[0] - '0';
    if (g < 0 || g >= (long long)it.choices.size())
      throw InputError(path, record_pointer(r, "label"),
                       fmt::format("expected the index of an ending (0..{}), got {}", it.choices.size() - 1, label.dump()));
    it.gold = (int)g;
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace bp::data

BENCH_REGISTER_TASK(hellaswag) {
  bp::TaskInfo t;
  t.name = "hellaswag";
  t.description = "HellaSwag (a user-supplied jsonl, e.g. hellaswag_val.jsonl, with its sha256): 4-way multiple "
                  "choice by log-likelihood with the harness's preprocessing, acc and acc_norm";
  t.protocol = "lm-eval-loglikelihood";
  t.protocol_version = 1;
  bp::data::add_user_file_options(t.options, "hellaswag/hellaswag_val.jsonl");
  bp::data::add_subset_options(t.options, 0);
  t.metrics = bp::data::multiple_choice_metrics();
  t.validate = bp::data::validate_user_file;
  t.data_files = [](const bp::Params& p) { return std::vector<bp::DataFile>{bp::data::user_file(p)}; };
  t.make = [](const bp::Params& p) -> std::unique_ptr<bp::Task> {
    bp::DataFile f = bp::data::user_file(p);
    return std::make_unique<bp::data::MultipleChoiceTask>(
        [f](const bp::TaskContext& ctx) { return bp::data::load_hellaswag(ctx.data_root, f); });
  };
  return t;
}
