#pragma once
// JSON Lines records with their line numbers, and typed field access whose errors name the file, the line and the
// field (as a JSON pointer "/line/<n>/<field>").
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bp::data {

using json = nlohmann::json;

struct JsonlRecord {
  size_t line = 0;  // 1-based line number in the file
  json value;
};

// Parses every non-empty line as a JSON object. Throws InputError(path, "/line/<n>", "expected a JSON object, ...").
std::vector<JsonlRecord> parse_jsonl(const std::string& text, const std::string& path);

// Field accessors: throw InputError(path, "/line/<n>/<key>", "expected <type>, got ...").
const json& field(const JsonlRecord& r, const std::string& key, const std::string& path);
std::string string_field(const JsonlRecord& r, const std::string& key, const std::string& path);
const json& array_field(const JsonlRecord& r, const std::string& key, const std::string& path);
const json& object_field(const JsonlRecord& r, const std::string& key, const std::string& path);

// The pointer used in messages for a record's field.
std::string record_pointer(const JsonlRecord& r, const std::string& key = "");

}  // namespace bp::data
