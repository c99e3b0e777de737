#include "harness/common/param_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "harness/common/error.h"

namespace bp {

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::String: return "string";
    case ParamType::Enum: return "enum";
    case ParamType::IntList: return "int[]";
    case ParamType::StringList: return "string[]";
  }
  return "?";
}

namespace {

std::string join_ints(const std::vector<long long>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::string join_strings(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json(v[i]).dump();
  return s;
}

// Integral bounds print exactly (1048576, not 1.04858e+06); others in the shortest form.
std::string fmt_number(double x) {
  if (std::isfinite(x) && std::floor(x) == x && std::fabs(x) < 1e15) return fmt::format("{:.0f}", x);
  return fmt::format("{:g}", x);
}

std::string expectation(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::Int:
      if (!s.int_choices.empty()) return "an integer, one of [" + join_ints(s.int_choices) + "]";
      return fmt::format("an integer in [{}, {}]", fmt_number(*s.min), fmt_number(*s.max));
    case ParamType::Float:
      return fmt::format("a number in [{}, {}]", fmt_number(*s.min), fmt_number(*s.max));
    case ParamType::Bool: return "true or false";
    case ParamType::String: return "a string";
    case ParamType::Enum: return "one of [" + join_strings(s.choices) + "]";
    case ParamType::IntList:
      return fmt::format("a non-empty list of integers in [{}, {}]", fmt_number(*s.min), fmt_number(*s.max));
    case ParamType::StringList: return "a list of strings";
  }
  return "?";
}

// An integer given either as a JSON integer or as an integral float (4.0 is accepted as 4; 4.5 is not).
bool as_integer(const json& v, long long* out) {
  if (v.is_number_integer()) {
    *out = v.get<long long>();
    return true;
  }
  if (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>()) {
    *out = (long long)v.get<double>();
    return true;
  }
  return false;
}

}  // namespace

ParamSchema& ParamSchema::integer(std::string name, long long def, long long min, long long max, std::string doc) {
  ParamSpec s{std::move(name), ParamType::Int, def, (double)min, (double)max, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::integer_of(std::string name, long long def, std::vector<long long> allowed, std::string doc) {
  ParamSpec s{std::move(name), ParamType::Int, def, std::nullopt, std::nullopt, {}, std::move(allowed), std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::real(std::string name, double def, double min, double max, std::string doc) {
  ParamSpec s{std::move(name), ParamType::Float, def, min, max, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::string_list(std::string name, std::vector<std::string> def, std::string doc) {
  ParamSpec s{std::move(name), ParamType::StringList, json(def), std::nullopt, std::nullopt, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::integer_list(std::string name, std::vector<long long> def, long long min, long long max,
                                       std::string doc) {
  ParamSpec s{std::move(name), ParamType::IntList, json(def), (double)min, (double)max, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::boolean(std::string name, bool def, std::string doc) {
  ParamSpec s{std::move(name), ParamType::Bool, def, std::nullopt, std::nullopt, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::string(std::string name, std::string def, std::string doc) {
  ParamSpec s{std::move(name), ParamType::String, def, std::nullopt, std::nullopt, {}, {}, std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

ParamSchema& ParamSchema::enumeration(std::string name, std::string def, std::vector<std::string> choices,
                                      std::string doc) {
  ParamSpec s{std::move(name), ParamType::Enum, def, std::nullopt, std::nullopt, std::move(choices), {},
              std::move(doc)};
  specs_.push_back(std::move(s));
  return *this;
}

const ParamSpec* ParamSchema::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

void ParamSchema::check_value(const ParamSpec& s, const json& v, const std::string& file,
                              const std::string& pointer) const {
  auto fail = [&]() {
    throw InputError(file, pointer, fmt::format("expected {}, got {}", expectation(s), v.dump()));
  };
  switch (s.type) {
    case ParamType::Int: {
      long long x = 0;
      if (!as_integer(v, &x)) fail();
      if (!s.int_choices.empty()) {
        bool ok = false;
        for (long long c : s.int_choices) ok |= (c == x);
        if (!ok) fail();
      } else if ((s.min && x < *s.min) || (s.max && x > *s.max)) {
        fail();
      }
      break;
    }
    case ParamType::Float: {
      if (!v.is_number()) fail();
      double x = v.get<double>();
      if (!std::isfinite(x) || (s.min && x < *s.min) || (s.max && x > *s.max)) fail();
      break;
    }
    case ParamType::Bool:
      if (!v.is_boolean()) fail();
      break;
    case ParamType::String:
      if (!v.is_string()) fail();
      break;
    case ParamType::Enum: {
      if (!v.is_string()) fail();
      bool ok = false;
      for (const auto& c : s.choices) ok |= (c == v.get<std::string>());
      if (!ok) fail();
      break;
    }
    case ParamType::StringList:
      if (!v.is_array()) fail();
      for (const auto& e : v)
        if (!e.is_string()) fail();
      break;
    case ParamType::IntList: {
      if (!v.is_array() || v.empty()) fail();
      for (const auto& e : v) {
        long long x = 0;
        if (!as_integer(e, &x) || x < *s.min || x > *s.max) fail();
      }
      break;
    }
  }
}

json ParamSchema::canonicalize(const json& given, const std::string& file, const std::string& pointer) const {
  if (!given.is_null() && !given.is_object())
    throw InputError(file, pointer, fmt::format("expected an object of parameters, got {}", given.dump()));
  json out = json::object();
  if (given.is_object()) {
    for (auto it = given.begin(); it != given.end(); ++it) {
      const ParamSpec* s = find(it.key());
      std::string ptr = json_pointer_append(pointer, it.key());
      if (!s) {
        std::vector<std::string> names;
        for (const auto& sp : specs_) names.push_back(sp.name);
        if (names.empty())
          throw InputError(file, ptr, fmt::format("unknown parameter \"{}\"; expected none (there are no parameters)", it.key()));
        throw InputError(file, ptr,
                         fmt::format("unknown parameter \"{}\"; expected one of [{}]", it.key(), join_strings(names)));
      }
      check_value(*s, it.value(), file, ptr);
    }
  }
  for (const auto& s : specs_) {
    json v = (given.is_object() && given.contains(s.name)) ? given.at(s.name) : s.default_value;
    switch (s.type) {
      case ParamType::Int: out[s.name] = v.is_number_integer() ? v.get<long long>() : (long long)v.get<double>(); break;
      case ParamType::Float: out[s.name] = v.get<double>(); break;
      case ParamType::IntList: {
        json list = json::array();
        for (const auto& e : v) list.push_back(e.is_number_integer() ? e.get<long long>() : (long long)e.get<double>());
        out[s.name] = std::move(list);
        break;
      }
      default: out[s.name] = v; break;
    }
  }
  return out;
}

std::string ParamSchema::describe() const {
  if (specs_.empty()) return "  (no parameters)\n";
  auto range_of = [](const ParamSpec& s) -> std::string {
    switch (s.type) {
      case ParamType::Int:
        return s.int_choices.empty() ? fmt::format("[{}, {}]", fmt_number(*s.min), fmt_number(*s.max))
                                     : fmt::format("{{{}}}", join_ints(s.int_choices));
      case ParamType::Float:
      case ParamType::IntList: return fmt::format("[{}, {}]", fmt_number(*s.min), fmt_number(*s.max));
      case ParamType::Enum: return fmt::format("{{{}}}", join_strings(s.choices));
      default: return "";
    }
  };
  // Columns as wide as their widest cell, so long defaults (lists) and ranges stay aligned.
  size_t wn = 4, wd = 7, wr = 5;
  for (const auto& s : specs_) {
    wn = std::max(wn, s.name.size());
    wd = std::max(wd, s.default_value.dump().size());
    wr = std::max(wr, range_of(s).size());
  }
  std::ostringstream os;
  for (const auto& s : specs_)
    os << fmt::format("  {:<{}}  {:<6}  default {:<{}}  {:<{}}  {}\n", s.name, wn, param_type_name(s.type),
                      s.default_value.dump(), wd, range_of(s), wr, s.doc);
  return os.str();
}

json ParamSchema::to_json() const {
  json arr = json::array();
  for (const auto& s : specs_) {
    json j = {{"name", s.name}, {"type", param_type_name(s.type)}, {"default", s.default_value}, {"doc", s.doc}};
    if (s.min) j["min"] = *s.min;
    if (s.max) j["max"] = *s.max;
    if (!s.choices.empty()) j["choices"] = s.choices;
    if (!s.int_choices.empty()) j["choices"] = s.int_choices;
    arr.push_back(j);
  }
  return arr;
}

long long Params::get_int(const std::string& name) const { return values_.at(name).get<long long>(); }
double Params::get_float(const std::string& name) const { return values_.at(name).get<double>(); }
bool Params::get_bool(const std::string& name) const { return values_.at(name).get<bool>(); }
std::string Params::get_string(const std::string& name) const { return values_.at(name).get<std::string>(); }
std::vector<long long> Params::get_int_list(const std::string& name) const {
  return values_.at(name).get<std::vector<long long>>();
}
std::vector<std::string> Params::get_string_list(const std::string& name) const {
  return values_.at(name).get<std::vector<std::string>>();
}

}  // namespace bp
