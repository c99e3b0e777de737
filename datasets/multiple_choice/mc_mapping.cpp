#include "datasets/multiple_choice/mc_mapping.h"

#include <fmt/format.h>

#include <cctype>
#include <set>
#include <stdexcept>

#include "datasets/common/data_file.h"
#include "datasets/common/jsonl.h"
#include "datasets/common/user_file.h"
#include "harness/common/error.h"

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

// "a/b/0" -> the JSON pointer "/a/b/0" (segments escaped as JSON pointers need).
json::json_pointer pointer_of(const std::string& path) {
  std::string ptr;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    ptr = json_pointer_append(ptr, path.substr(i, slash - i));
    i = slash + 1;
  }
  return json::json_pointer(ptr);
}

// The value at `path`, or nullptr.
const json* lookup(const json& v, const std::string& path) {
  if (path.empty()) return &v;
  json::json_pointer p = pointer_of(path);
  if (!v.contains(p)) return nullptr;
  return &v.at(p);
}

std::string scalar_text(const json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  throw std::invalid_argument(fmt::format("field \"{}\" is {}, expected a string or a number", path, v.dump()));
}

std::string clean_up(const std::string& preprocess, const std::string& text) {
  return preprocess == "hellaswag" ? hellaswag_preprocess(text) : text;
}

// A 0-based index given as an integer or a string of digits; -1 otherwise.
long long index_of(const json& v) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.empty() || s.size() > 9) return -1;
    for (char c : s)
      if (!std::isdigit((unsigned char)c)) return -1;
    return std::stoll(s);
  }
  return -1;
}

std::string option_pointer(const std::string& pointer, const char* name) {
  return json_pointer_append(json_pointer_append(pointer, "options"), name);
}

}  // namespace

std::string hellaswag_preprocess(const std::string& text) {
  std::string s = replace_all(strip(text), " [title]", ". ");
  // Remove "[...]" spans, shortest match: an '[' up to the next ']' on the same line (the harness's regex '.' does
  // not match a newline). An unmatched '[' stays.
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

std::string render_template(const std::string& tmpl, const json& record) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    const char c = tmpl[i];
    if (c == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      out += '{';
      i += 2;
    } else if (c == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
      out += '}';
      i += 2;
    } else if (c == '{') {
      size_t close = tmpl.find('}', i + 1);
      if (close == std::string::npos)
        throw std::invalid_argument(fmt::format("template \"{}\": a \"{{\" without its \"}}\"", tmpl));
      std::string field = tmpl.substr(i + 1, close - i - 1), filter;
      if (size_t bar = field.find('|'); bar != std::string::npos) {
        filter = field.substr(bar + 1);
        field = field.substr(0, bar);
      }
      if (field.empty()) throw std::invalid_argument(fmt::format("template \"{}\": an empty field name", tmpl));
      if (!filter.empty() && filter != "capitalize" && filter != "strip")
        throw std::invalid_argument(fmt::format("template \"{}\": unknown filter \"{}\"; expected capitalize or strip",
                                                tmpl, filter));
      std::string text;
      if (!record.is_null()) {  // a null record only checks the template's syntax
        const json* v = lookup(record, field);
        if (!v) throw std::invalid_argument(fmt::format("no field \"{}\"", field));
        text = scalar_text(*v, field);
      }
      out += filter == "capitalize" ? capitalize_ascii(text) : filter == "strip" ? strip(text) : text;
      i = close + 1;
    } else if (c == '}') {
      throw std::invalid_argument(fmt::format("template \"{}\": a lone \"}}\" (write \"}}}}\" for a brace)", tmpl));
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

void add_mapping_options(ParamSchema& s, const json& d) {
  auto str = [&](const char* k, const char* def) { return d.contains(k) ? d[k].get<std::string>() : std::string(def); };
  add_user_file_options(s, str("file", ""));
  s.string("labels_file", str("labels_file", ""),
           "a file with one gold label per line, one line per record (\"\" = the gold is the field `label`)")
      .string("labels_sha256", str("labels_sha256", ""), "sha256 of labels_file (required with it)")
      .string("context", str("context", ""), "template of the context, e.g. \"Question: {goal}\\nAnswer:\"")
      .string_list("choices", d.contains("choices") ? d["choices"].get<std::vector<std::string>>()
                                                    : std::vector<std::string>{},
                   "one template per choice, e.g. [\"{sol1}\", \"{sol2}\"] (or use choices_array)")
      .string("choices_array", str("choices_array", ""), "path of an array field holding the choices")
      .string("choice_text", str("choice_text", ""),
              "with choices_array: path of the text within an element (\"\" = the element is the text)")
      .string("choice_label", str("choice_label", ""),
              "with choices_array and label_kind choice_label: path of the label within an element")
      .string("label", str("label", ""), "path of the gold field (\"\" with labels_file)")
      .enumeration("label_kind", str("label_kind", "index"), {"index", "choice_label"},
                   "index: the gold is a 0-based choice index (integer or digits); choice_label: the gold equals "
                   "one element's choice_label")
      .string("key", str("key", ""), "template of the item key (\"\" = the record's 0-based index); keys are unique")
      .enumeration("preprocess", str("preprocess", "none"), {"none", "hellaswag"},
                   "text clean-up applied to the context and each choice (hellaswag: lm-evaluation-harness's)")
      .string("delimiter", str("delimiter", " "), "put between the context and each choice (target_delimiter)");
}

McMapping mapping_of(const Params& p) {
  McMapping m;
  m.context = p.get_string("context");
  m.choices = p.get_string_list("choices");
  m.choices_array = p.get_string("choices_array");
  m.choice_text = p.get_string("choice_text");
  m.choice_label = p.get_string("choice_label");
  m.label = p.get_string("label");
  m.label_kind = p.get_string("label_kind");
  m.key = p.get_string("key");
  m.preprocess = p.get_string("preprocess");
  m.delimiter = p.get_string("delimiter");
  return m;
}

void validate_mapping(const Params& p, const std::string& file, const std::string& pointer) {
  validate_user_file(p, file, pointer);
  auto reject = [&](const char* name, const std::string& why) {
    throw InputError(file, option_pointer(pointer, name), why);
  };
  const McMapping m = mapping_of(p);
  auto check = [&](const char* name, const std::string& tmpl) {
    try {
      render_template(tmpl, json());
    } catch (const std::invalid_argument& e) {
      reject(name, std::string("expected a valid template: ") + e.what());
    }
  };
  if (m.context.empty()) reject("context", "expected a template of the context, e.g. \"Question: {question}\\nAnswer:\"");
  check("context", m.context);
  check("key", m.key);
  for (const auto& c : m.choices) check("choices", c);
  if (m.choices.empty() == m.choices_array.empty())
    reject("choices", "expected exactly one of choices (a list of at least 2 templates) and choices_array (a path)");
  if (!m.choices.empty() && m.choices.size() < 2) reject("choices", "expected at least 2 choice templates");
  if (m.label_kind == "choice_label" && (m.choices_array.empty() || m.choice_label.empty()))
    reject("label_kind", "label_kind \"choice_label\" needs choices_array and choice_label");
  const bool labels_file = !p.get_string("labels_file").empty();
  if (labels_file == !m.label.empty())
    reject("label", "expected exactly one of label (the gold field's path) and labels_file");
  if (labels_file) {
    if (!is_sha256_hex(p.get_string("labels_sha256")))
      reject("labels_sha256", "expected the labels file's sha256 as 64 lowercase hex digits");
    if (m.label_kind != "index") reject("label_kind", "a labels_file holds choice indices: expected label_kind \"index\"");
  }
}

std::vector<DataFile> mapping_files(const Params& p) {
  std::vector<DataFile> files{user_file(p)};
  if (!p.get_string("labels_file").empty()) files.push_back(DataFile{p.get_string("labels_file"), p.get_string("labels_sha256")});
  return files;
}

std::vector<McItem> load_mapped(const std::string& data_root, const McMapping& m, const DataFile& records,
                                const std::optional<DataFile>& labels) {
  const std::string path = data_path(data_root, records.relative_path);
  std::vector<JsonlRecord> recs = parse_jsonl(read_verified(data_root, records), path);
  std::string label_text;
  std::vector<std::string_view> label_lines;
  std::string lpath;
  if (labels) {
    lpath = data_path(data_root, labels->relative_path);
    label_text = read_verified(data_root, *labels);
    label_lines = split_lines(label_text);
    if (label_lines.size() != recs.size())
      throw InputError(lpath, "", fmt::format("expected one label per record of {} ({} lines), got {} lines", path,
                                              recs.size(), label_lines.size()));
  }
  std::vector<McItem> items;
  items.reserve(recs.size());
  std::set<std::string> keys;
  for (size_t i = 0; i < recs.size(); ++i) {
    const JsonlRecord& r = recs[i];
    std::string where = record_pointer(r);
    auto render = [&](const std::string& tmpl) {
      try {
        return render_template(tmpl, r.value);
      } catch (const std::invalid_argument& e) {
        throw InputError(path, where, e.what());
      }
    };
    McItem it;
    it.delimiter = m.delimiter;
    it.key = m.key.empty() ? std::to_string(i) : render(m.key);
    if (!keys.insert(it.key).second)
      throw InputError(path, where, fmt::format("expected unique item keys, got \"{}\" twice", it.key));
    it.context = clean_up(m.preprocess, render(m.context));
    std::vector<std::string> choice_labels;
    if (!m.choices.empty()) {
      for (const auto& c : m.choices) it.choices.push_back(clean_up(m.preprocess, render(c)));
    } else {
      const json* arr = lookup(r.value, m.choices_array);
      const std::string ap = where + pointer_of(m.choices_array).to_string();
      if (!arr || !arr->is_array() || arr->size() < 2)
        throw InputError(path, ap, "expected an array of at least 2 choices");
      for (size_t k = 0; k < arr->size(); ++k) {
        const json& e = (*arr)[k];
        const std::string ep = ap + "/" + std::to_string(k);
        const json* text = lookup(e, m.choice_text);
        if (!text || !text->is_string())
          throw InputError(path, ep + (m.choice_text.empty() ? "" : pointer_of(m.choice_text).to_string()),
                           "expected a string (the choice's text)");
        it.choices.push_back(clean_up(m.preprocess, text->get<std::string>()));
        if (m.label_kind == "choice_label") {
          const json* lab = lookup(e, m.choice_label);
          if (!lab || !lab->is_string())
            throw InputError(path, ep + pointer_of(m.choice_label).to_string(), "expected a string (the choice's label)");
          choice_labels.push_back(lab->get<std::string>());
        }
      }
    }
    if (labels) {
      const json line = std::string(label_lines[i]);
      long long g = index_of(line);
      if (g < 0 || g >= (long long)it.choices.size())
        throw InputError(lpath, "/line/" + std::to_string(i + 1),
                         fmt::format("expected a choice index 0..{}, got \"{}\"", it.choices.size() - 1,
                                     std::string(label_lines[i])));
      it.gold = (int)g;
    } else {
      const json* gold = lookup(r.value, m.label);
      const std::string gp = where + pointer_of(m.label).to_string();
      if (!gold) throw InputError(path, gp, "expected the gold label, found no such field");
      if (m.label_kind == "choice_label") {
        it.gold = -1;
        for (size_t k = 0; k < choice_labels.size(); ++k)
          if (gold->is_string() && choice_labels[k] == gold->get<std::string>()) it.gold = (int)k;
        if (it.gold < 0)
          throw InputError(path, gp, fmt::format("expected the label of one of the choices, got {}", gold->dump()));
      } else {
        long long g = index_of(*gold);
        if (g < 0 || g >= (long long)it.choices.size())
          throw InputError(path, gp, fmt::format("expected a choice index 0..{}, got {}", it.choices.size() - 1,
                                                 gold->dump()));
        it.gold = (int)g;
      }
    }
    items.push_back(std::move(it));
  }
  return items;
}

}  // namespace bp::data
