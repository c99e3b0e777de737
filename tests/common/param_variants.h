#pragma once
// Representative parameter sets of a method, derived from its schema (so a new method or parameter is covered
// without an edit): the defaults; each other choice of every enumeration, integer with listed values and boolean,
// one at a time; and each unlisted integer at an eighth of its default (within its range), so that budgets,
// windows and intervals bite within a few hundred tokens. Sets the method rejects are the caller's to skip.
#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/param_schema.h"
#include "harness/core/registry.h"

namespace bp::test {

inline std::vector<nlohmann::json> parameter_variants(const ParamSchema& s) {
  using nlohmann::json;
  std::vector<json> sets = {json::object()};
  for (const ParamSpec& p : s.specs()) {
    if (p.type == ParamType::Enum) {
      for (const std::string& c : p.choices)
        if (json(c) != p.default_value) sets.push_back({{p.name, c}});
    } else if (p.type == ParamType::Bool) {
      sets.push_back({{p.name, !p.default_value.get<bool>()}});
    } else if (p.type == ParamType::Int && !p.int_choices.empty()) {
      for (long long c : p.int_choices)
        if (json(c) != p.default_value) sets.push_back({{p.name, c}});
    } else if (p.type == ParamType::Int) {
      long long v = p.default_value.get<long long>() / 8;
      if (p.min) v = std::max(v, (long long)*p.min);
      if (p.max) v = std::min(v, (long long)*p.max);
      if (json(v) != p.default_value) sets.push_back({{p.name, v}});
    }
  }
  return sets;
}

// The canonical parameter sets of parameter_variants() that the method itself accepts (schema and its own
// cross-parameter rule); the ones it rejects are left out.
inline std::vector<Params> accepted_parameter_sets(const MethodInfo& m) {
  std::vector<Params> out;
  for (const nlohmann::json& given : parameter_variants(m.schema)) {
    try {
      Params p(m.schema.canonicalize(given, "", ""));
      if (m.validate) m.validate(p, "", "");
      out.push_back(std::move(p));
    } catch (const InputError&) {
      // a combination the method rejects
    }
  }
  return out;
}

}  // namespace bp::test
