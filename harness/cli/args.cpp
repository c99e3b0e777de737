#include "harness/cli/args.h"

#include <fmt/format.h>

#include <charconv>

#include "harness/common/error.h"

namespace bp::cli {

std::optional<std::string> ParsedArgs::get(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
}

ParsedArgs parse_args(const std::string& command, const std::vector<std::string>& args,
                      const std::vector<OptionSpec>& options, size_t min_positional, size_t max_positional) {
  ParsedArgs out;
  const std::string hint = fmt::format("; see `bench {} --help`", command);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      out.positional.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& o : options)
      if (o.name == name) spec = &o;
    if (!spec) throw InputError("", "", fmt::format("unknown option {}{}", name, hint));
    if (out.values.count(name) || out.flags.count(name))
      throw InputError("", "", fmt::format("option {} given twice{}", name, hint));
    if (!spec->takes_value) {
      if (inline_value) throw InputError("", "", fmt::format("option {} takes no value{}", name, hint));
      out.flags.insert(name);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) throw InputError("", "", fmt::format("option {} expects a value{}", name, hint));
      value = args[++i];
    }
    out.values[name] = value;
  }
  if (!out.help && (out.positional.size() < min_positional || out.positional.size() > max_positional)) {
    if (out.positional.size() > max_positional)
      throw InputError("", "", fmt::format("unexpected argument \"{}\"{}", out.positional[max_positional], hint));
    throw InputError("", "", fmt::format("missing argument{}", hint));
  }
  return out;
}

long long parse_int_arg(const std::string& what, const std::string& text, long long lo, long long hi) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi)
    throw InputError("", what, fmt::format("expected an integer in [{}, {}], got \"{}\"", lo, hi, text));
  return v;
}

}  // namespace bp::cli
