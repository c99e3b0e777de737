#pragma once
// `bench` subcommands register themselves from their own file (cmd_<name>.cpp), so adding a subcommand needs no
// edit to main.cpp:
//
//   BENCH_REGISTER_COMMAND(generate, "generate", "greedy continuation of a prompt", cmd_generate);
//   int cmd_generate(const std::vector<std::string>& args);   // args exclude "bench generate"
//
// Exit codes: 0 success, 1 some configuration/work failed, 2 bad usage or invalid input.
#include <functional>
#include <string>
#include <vector>

namespace bp::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;  // one line, shown by `bench --help`
  CommandFn run;
};

bool register_command(Command c);
const Command* find_command(const std::string& name);
std::vector<const Command*> all_commands();

}  // namespace bp::cli

#define BENCH_REGISTER_COMMAND(ident, name, summary, fn)                                               \
  [[maybe_unused]] static const bool bench_command_registered_##ident =                              \
      ::bp::cli::register_command(::bp::cli::Command{name, summary, fn})
