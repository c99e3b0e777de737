#pragma once
// The one argument parser of the subcommands. Each command declares a CommandSpec (its positionals and options, with
// a one-line help each); parse_command() reads the arguments against it and help_text() prints `--help` from it, so
// the help can never drift from what is accepted. Usage errors are InputErrors: `bench` exits with code 2 and a
// message naming the problem.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bp::cli {

// An integer option's allowed range, checked while parsing (the message names the option and the range).
struct IntRange {
  long long lo = 0, hi = 0;
};

struct OptionSpec {
  std::string name;              // "--db", or a short form such as "-n"
  bool takes_value = true;       // false: a flag
  std::string value_name;        // "PATH", "f16|f32": shown in the usage line and the help
  std::string help;              // one line
  std::optional<IntRange> range; // integers only
  bool required = false;         // must be given (shown without brackets in the usage line)
  bool repeated = false;         // may be given several times (values kept in order)
};

struct PositionalSpec {
  std::string name;  // "SUITE.json"
  std::string help;  // one line
  bool repeated = false;  // the last positional only: one or more
  bool optional = false;  // the last positional only: may be left out (with repeated: zero or more)
};

struct CommandSpec {
  std::string name;         // "run"
  std::string summary;      // one line, shown by `bench --help`
  std::string description;  // free text after the usage line (may be several lines; may be empty)
  std::vector<PositionalSpec> positionals;
  std::vector<OptionSpec> options;
  std::string epilog;       // free text after the options (exit codes)
  // Commands that run a Python script (compare, report): every argument, --help included, goes to the script
  // unparsed, since the script owns those options and their help. Names the script for `bench <cmd> --help`.
  std::string forwards_to;
};

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> raw;  // the arguments as given (stored with runs as the command line)
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // every value of each option given, in order
  std::map<std::string, long long> ints;                   // integer options, checked against their range
  std::vector<std::string> flags;

  std::optional<std::string> get(const std::string& name) const;
  const std::vector<std::string>& all(const std::string& name) const;
  std::optional<long long> get_int(const std::string& name) const;
  bool flag(const std::string& name) const;
};

// Parses `args` (without "bench <command>") against the spec: "--name VALUE" / "--name=VALUE" options, flags,
// -h/--help, positionals counted against the spec (unless --help was given). An unknown option, an option given
// twice (unless repeated), a missing value, an integer out of range or a missing required option is an InputError.
// With spec.forwards_to set, nothing is parsed: every argument lands in `raw`.
ParsedArgs parse_command(const CommandSpec& spec, const std::vector<std::string>& args);

// `bench <command> --help`: the usage line, the description, one line per positional and per option, the epilog.
std::string help_text(const CommandSpec& spec);

// An integer argument in [lo, hi]; `what` names it in the message.
long long parse_int_arg(const std::string& what, const std::string& text, long long lo, long long hi);

}  // namespace bp::cli
