#pragma once
// Reading the small JSON files of a Hugging Face checkpoint, with errors that name the file and the JSON pointer.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace bp::rt {

// Parses the whole file; InputError naming it when unreadable or not JSON.
nlohmann::json read_json_file(const std::string& path);

// Typed lookups of a key of `obj` (an object found at `base` in `file`). Absent or null keys give nullopt; a value
// of the wrong type (or out of range) is an InputError naming file and pointer.
std::optional<int64_t> json_opt_int(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                    const std::string& base, int64_t min, int64_t max);
std::optional<double> json_opt_number(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                      const std::string& base);
std::optional<bool> json_opt_bool(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                  const std::string& base);
std::optional<std::string> json_opt_string(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                           const std::string& base);

}  // namespace bp::rt
