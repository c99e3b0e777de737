#pragma once
// Reading user JSON files (suites) strictly: syntax errors carry line and column, and a key repeated inside one
// object is an error (nlohmann/json would silently keep the last value, so a typo'd suite could run with a value
// its author did not mean).
#include <string>

#include "harness/common/param_schema.h"

namespace bp {

// Parses `text` (the contents of `file`, used in messages). Throws InputError(file, pointer, ...) on invalid JSON
// or a repeated key.
json parse_json_strict(const std::string& text, const std::string& file);

// Reads the whole file; throws InputError(file, "", "cannot read ...") when it cannot.
std::string read_text_file(const std::string& path);

// Short rendering of a JSON value for "got ..." in messages: compact, cut at `max_chars`.
std::string json_excerpt(const json& v, size_t max_chars = 60);

// JSON type in words ("an object", "a string", ...) for messages.
const char* json_type_words(const json& v);

}  // namespace bp
