#include "harness/core/param_cli.h"

#include <fmt/format.h>

#include "harness/common/error.h"

namespace bp {

json parse_param_assignments(const ParamSchema& schema, const std::vector<std::string>& assignments,
                             const std::string& source) {
  json out = json::object();
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError(source, "", fmt::format("expected NAME=VALUE, got \"{}\"", a));
    const std::string name = a.substr(0, eq), text = a.substr(eq + 1);
    const std::string ptr = json_pointer_append("", name);
    const ParamSpec* spec = schema.find(name);
    if (!spec) {
      schema.canonicalize(json{{name, text}}, source, "");  // throws the standard "unknown parameter" error
      throw InputError(source, ptr, "unknown parameter \"" + name + "\"");
    }
    json v;
    switch (spec->type) {
      case ParamType::Int:
      case ParamType::Float:
      case ParamType::Bool:
      case ParamType::IntList:
      case ParamType::StringList:
        // Numbers, booleans and lists are JSON literals: "4", "0.5", "true", "[1,2]", "[\"a\"]".
        v = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (v.is_discarded())
          throw InputError(source, ptr, fmt::format("expected a {} value, got \"{}\"", param_type_name(spec->type), text));
        break;
      default:
        v = text;
        break;
    }
    if (out.contains(name)) throw InputError(source, ptr, "parameter given twice");
    out[name] = v;
  }
  return out;
}

}  // namespace bp
