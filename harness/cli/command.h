#pragma once
// `bench` subcommands register themselves from their own file (cmd_<name>.cpp), so adding a subcommand needs no
// edit to main.cpp. Each declares its arguments as a CommandSpec (args.h); main.cpp parses them through
// parse_command() and answers --help from the spec, so a command only ever sees arguments its table accepts:
//
//   const CommandSpec kSpec{.name = "show", .summary = "...", .positionals = {...}, .options = {...}};
//   int cmd_show(const ParsedArgs& a);
//   BENCH_REGISTER_COMMAND(show, kSpec, cmd_show);
//
// Exit codes: 0 success, 1 some configuration/work failed, 2 bad usage or invalid input.
#include <functional>
#include <string>
#include <vector>

#include "harness/cli/args.h"

namespace bp::cli {

using CommandFn = std::function<int(const ParsedArgs& args)>;

struct Command {
  CommandSpec spec;
  CommandFn run;
};

bool register_command(Command c);
const Command* find_command(const std::string& name);
std::vector<const Command*> all_commands();

}  // namespace bp::cli

#define BENCH_REGISTER_COMMAND(ident, spec, fn)                                           \
  [[maybe_unused]] static const bool bench_command_registered_##ident = \
      ::bp::cli::register_command(::bp::cli::Command{spec, fn})
