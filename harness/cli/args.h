#pragma once
// Argument parsing shared by the subcommands: positionals, "--name VALUE" / "--name=VALUE" options, flags, and
// -h/--help. Usage errors are InputErrors, so `bench` exits with code 2 and a message naming the problem.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bp::cli {

struct OptionSpec {
  std::string name;     // "--db"
  bool takes_value = true;
};

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;

  std::optional<std::string> get(const std::string& name) const;
  bool flag(const std::string& name) const { return flags.count(name) > 0; }
};

// `command` names the subcommand in messages. Positionals must number in [min_positional, max_positional] (checked
// unless --help was given). An option given twice is an error.
ParsedArgs parse_args(const std::string& command, const std::vector<std::string>& args,
                      const std::vector<OptionSpec>& options, size_t min_positional, size_t max_positional);

// An integer argument in [lo, hi]; `what` names it in the message.
long long parse_int_arg(const std::string& what, const std::string& text, long long lo, long long hi);

}  // namespace bp::cli
