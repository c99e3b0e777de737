#include "harness/runtime/io/json_file.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "harness/common/error.h"

namespace bp::rt {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "expected a readable JSON file, got none");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", fmt::format("expected valid JSON, got a parse error: {}", e.what()));
  }
}

namespace {
const nlohmann::json* lookup(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace

std::optional<int64_t> json_opt_int(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                    const std::string& base, int64_t min, int64_t max) {
  const nlohmann::json* v = lookup(obj, key);
  if (!v) return std::nullopt;
  const std::string where = json_pointer_append(base, key);
  if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
    throw InputError(file, where, fmt::format("expected an integer, got {}", v->dump()));
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max)
    throw InputError(file, where, fmt::format("expected an integer in {}..{}, got {}", min, max, x));
  return x;
}

std::optional<double> json_opt_number(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                      const std::string& base) {
  const nlohmann::json* v = lookup(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number())
    throw InputError(file, json_pointer_append(base, key), fmt::format("expected a number, got {}", v->dump()));
  return v->get<double>();
}

std::optional<bool> json_opt_bool(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                  const std::string& base) {
  const nlohmann::json* v = lookup(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean())
    throw InputError(file, json_pointer_append(base, key), fmt::format("expected true or false, got {}", v->dump()));
  return v->get<bool>();
}

std::optional<std::string> json_opt_string(const nlohmann::json& obj, const std::string& key, const std::string& file,
                                           const std::string& base) {
  const nlohmann::json* v = lookup(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string())
    throw InputError(file, json_pointer_append(base, key), fmt::format("expected a string, got {}", v->dump()));
  return v->get<std::string>();
}

}  // namespace bp::rt
