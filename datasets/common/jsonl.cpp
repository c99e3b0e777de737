#include "datasets/common/jsonl.h"

#include <fmt/format.h>

#include "datasets/common/data_file.h"
#include "harness/common/error.h"

namespace bp::data {
namespace {

std::string kind(const json& v) { return v.is_null() ? "null" : std::string(v.type_name()); }

}  // namespace

std::string record_pointer(const JsonlRecord& r, const std::string& key) {
  std::string p = "/line/" + std::to_string(r.line);
  return key.empty() ? p : json_pointer_append(p, key);
}

std::vector<JsonlRecord> parse_jsonl(const std::string& text, const std::string& path) {
  std::vector<JsonlRecord> out;
  size_t n = 0;
  for (std::string_view line : split_lines(text)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    JsonlRecord r;
    r.line = n;
    try {
      r.value = json::parse(line);
    } catch (const json::parse_error& e) {
      throw InputError(path, record_pointer(r), fmt::format("expected a JSON object, got invalid JSON ({})", e.what()));
    }
    if (!r.value.is_object())
      throw InputError(path, record_pointer(r), "expected a JSON object, got " + kind(r.value));
    out.push_back(std::move(r));
  }
  return out;
}

const json& field(const JsonlRecord& r, const std::string& key, const std::string& path) {
  auto it = r.value.find(key);
  if (it == r.value.end()) throw InputError(path, record_pointer(r, key), "expected field \"" + key + "\", got none");
  return *it;
}

std::string string_field(const JsonlRecord& r, const std::string& key, const std::string& path) {
  const json& v = field(r, key, path);
  if (!v.is_string()) throw InputError(path, record_pointer(r, key), "expected a string, got " + kind(v));
  return v.get<std::string>();
}

const json& array_field(const JsonlRecord& r, const std::string& key, const std::string& path) {
  const json& v = field(r, key, path);
  if (!v.is_array()) throw InputError(path, record_pointer(r, key), "expected an array, got " + kind(v));
  return v;
}

const json& object_field(const JsonlRecord& r, const std::string& key, const std::string& path) {
  const json& v = field(r, key, path);
  if (!v.is_object()) throw InputError(path, record_pointer(r, key), "expected an object, got " + kind(v));
  return v;
}

}  // namespace bp::data
