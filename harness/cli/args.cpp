#include "harness/cli/args.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "harness/common/error.h"

namespace bp::cli {

std::optional<std::string> ParsedArgs::get(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? std::nullopt : std::optional<std::string>(it->second.front());
}

const std::vector<std::string>& ParsedArgs::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values.find(name);
  return it == values.end() ? none : it->second;
}

std::optional<long long> ParsedArgs::get_int(const std::string& name) const {
  auto it = ints.find(name);
  return it == ints.end() ? std::nullopt : std::optional<long long>(it->second);
}

bool ParsedArgs::flag(const std::string& name) const {
  return std::find(flags.begin(), flags.end(), name) != flags.end();
}

namespace {

// Positionals the spec accepts: [min, max] (a repeated last positional takes any number beyond its first).
std::pair<size_t, size_t> positional_bounds(const CommandSpec& spec) {
  const size_t n = spec.positionals.size();
  const bool open = n > 0 && spec.positionals.back().repeated;
  const bool optional_last = n > 0 && spec.positionals.back().optional;
  return {optional_last ? n - 1 : n, open ? std::numeric_limits<size_t>::max() : n};
}

const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
  for (const auto& o : spec.options)
    if (o.name == name) return &o;
  return nullptr;
}

}  // namespace

ParsedArgs parse_command(const CommandSpec& spec, const std::vector<std::string>& args) {
  ParsedArgs out;
  out.raw = args;
  if (!spec.forwards_to.empty()) return out;
  const std::string hint = fmt::format("; see `bench {} --help`", spec.name);
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
    const OptionSpec* o = find_option(spec, name);
    if (!o) throw InputError("", "", fmt::format("unknown option {}{}", name, hint));
    if (!o->repeated && (out.values.count(name) || out.flag(name)))
      throw InputError("", "", fmt::format("option {} given twice{}", name, hint));
    if (!o->takes_value) {
      if (inline_value) throw InputError("", "", fmt::format("option {} takes no value{}", name, hint));
      out.flags.push_back(name);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) throw InputError("", "", fmt::format("option {} expects a value{}", name, hint));
      value = args[++i];
    }
    out.values[name].push_back(value);
  }
  if (out.help) return out;  // --help wins over any other mistake: the user asked how to fix it
  const auto [min_positional, max_positional] = positional_bounds(spec);
  if (out.positional.size() > max_positional)
    throw InputError("", "", fmt::format("unexpected argument \"{}\"{}", out.positional[max_positional], hint));
  if (out.positional.size() < min_positional) throw InputError("", "", fmt::format("missing argument{}", hint));
  for (const auto& o : spec.options)
    if (o.required && !out.values.count(o.name))
      throw InputError("", o.name, fmt::format("expected {} {}, got none{}", o.name, o.value_name, hint));
  for (const auto& o : spec.options)
    if (o.range)
      for (const std::string& v : out.all(o.name)) out.ints[o.name] = parse_int_arg(o.name, v, o.range->lo, o.range->hi);
  return out;
}

namespace {

// "--db PATH", "-n N", "--dry-run".
std::string option_form(const OptionSpec& o) { return o.takes_value ? o.name + " " + o.value_name : o.name; }

std::string usage_line(const CommandSpec& spec) {
  std::string s = "usage: bench " + spec.name;
  for (const auto& p : spec.positionals) {
    const std::string form = p.name + (p.repeated ? "..." : "");
    s += p.optional ? " [" + form + "]" : " " + form;
  }
  for (const auto& o : spec.options) {
    const std::string form = option_form(o) + (o.repeated ? " ..." : "");
    s += o.required ? " " + form : " [" + form + "]";
  }
  return s + "\n";
}

}  // namespace

std::string help_text(const CommandSpec& spec) {
  if (!spec.forwards_to.empty())
    return fmt::format("usage: bench {} ARGS...\n{}\nEvery argument goes to {}; `bench {} --help` prints its help.\n",
                       spec.name, spec.description, spec.forwards_to, spec.name);
  std::string s = usage_line(spec);
  if (!spec.description.empty()) s += spec.description + (spec.description.back() == '\n' ? "" : "\n");
  // One column for the names, as wide as the widest (at most 24 characters; a longer name pushes its line only).
  size_t width = 10;
  for (const auto& p : spec.positionals) width = std::max(width, p.name.size());
  for (const auto& o : spec.options) width = std::max(width, option_form(o).size());
  width = std::min<size_t>(width, 24);
  auto row = [&](const std::string& left, const std::string& help) {
    return fmt::format("  {:<{}}  {}\n", left, width, help);
  };
  if (!spec.positionals.empty()) {
    s += "\narguments:\n";
    for (const auto& p : spec.positionals) s += row(p.name + (p.repeated ? "..." : ""), p.help);
  }
  s += "\noptions:\n";
  for (const auto& o : spec.options) {
    std::string help = o.help;
    if (o.range) help += fmt::format(" (an integer in [{}, {}])", o.range->lo, o.range->hi);
    if (o.repeated) help += " (may be repeated)";
    s += row(option_form(o), help);
  }
  s += row("-h, --help", "print this help");
  if (!spec.epilog.empty()) s += "\n" + spec.epilog + (spec.epilog.back() == '\n' ? "" : "\n");
  return s;
}

long long parse_int_arg(const std::string& what, const std::string& text, long long lo, long long hi) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi)
    throw InputError("", what, fmt::format("expected an integer in [{}, {}], got \"{}\"", lo, hi, text));
  return v;
}

}  // namespace bp::cli
