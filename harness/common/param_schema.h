#pragma once
// ParamSchema: one typed parameter schema shared by methods and tasks. It validates user JSON (with JSON pointers
// in every error), fills defaults, produces the canonical JSON used for configuration identity, and renders the
// `bench describe` text.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bp {

using json = nlohmann::json;

// IntList: a non-empty list of integers, each within [min, max] (e.g. the context lengths of a latency sweep).
// StringList: a list of strings, possibly empty (e.g. the choice templates of a multiple-choice dataset).
enum class ParamType { Int, Float, Bool, String, Enum, IntList, StringList };
const char* param_type_name(ParamType t);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Int;
  json default_value;                 // must itself be valid
  std::optional<double> min, max;     // inclusive bounds for Int/Float
  std::vector<std::string> choices;   // for Enum (strings); Int may also list allowed values in `int_choices`
  std::vector<long long> int_choices; // e.g. bits in {2, 4, 8}
  std::string doc;

};

// Builder-style declaration, e.g.
//   ParamSchema().integer("bits", 4, {2, 4, 8}, "bit width").real("ratio", 0.6, 0.0, 1.0, "salient fraction")
class ParamSchema {
 public:
  ParamSchema& integer(std::string name, long long def, long long min, long long max, std::string doc);
  ParamSchema& integer_of(std::string name, long long def, std::vector<long long> allowed, std::string doc);
  ParamSchema& real(std::string name, double def, double min, double max, std::string doc);
  ParamSchema& boolean(std::string name, bool def, std::string doc);
  ParamSchema& string(std::string name, std::string def, std::string doc);
  ParamSchema& enumeration(std::string name, std::string def, std::vector<std::string> choices, std::string doc);
  ParamSchema& integer_list(std::string name, std::vector<long long> def, long long min, long long max,
                            std::string doc);
  ParamSchema& string_list(std::string name, std::vector<std::string> def, std::string doc);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(const std::string& name) const;

  // Validates one value against one spec. Throws InputError(file, pointer, "expected ..., got ...").
  void check_value(const ParamSpec& spec, const json& value, const std::string& file, const std::string& pointer) const;

  // Validates an object of parameters (unknown names are errors), fills defaults and returns the canonical object:
  // every parameter present, keys sorted, numbers normalised (Float always a JSON float, Int an integer).
  json canonicalize(const json& given, const std::string& file, const std::string& pointer) const;

  // Multi-line description for `bench describe` (name, type, default, range/choices, doc).
  std::string describe() const;
  // The schema as JSON (for `bench describe --json` and reports).
  json to_json() const;

 private:
  std::vector<ParamSpec> specs_;
};

// Read access to canonical parameters, with the type already guaranteed by the schema.
class Params {
 public:
  Params() = default;
  explicit Params(json canonical) : values_(std::move(canonical)) {}
  long long get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  std::vector<long long> get_int_list(const std::string& name) const;
  std::vector<std::string> get_string_list(const std::string& name) const;
  bool has(const std::string& name) const { return values_.contains(name); }
  const json& values() const { return values_; }
  // Canonical text: sorted keys, no whitespace. Used in configuration identity hashes.
  std::string canonical_text() const { return values_.dump(); }

 private:
  json values_ = json::object();
};

}  // namespace bp
