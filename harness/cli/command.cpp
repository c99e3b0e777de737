// The registry of `bench` subcommands (command.h); apart from main.cpp so the CLI tests can read every command's
// table in-process.
#include "harness/cli/command.h"

#include <map>

namespace bp::cli {

namespace {
std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> c;
  return c;
}
}  // namespace

bool register_command(Command c) {
  std::string name = c.spec.name;
  commands().emplace(std::move(name), std::move(c));
  return true;
}

const Command* find_command(const std::string& name) {
  auto it = commands().find(name);
  return it == commands().end() ? nullptr : &it->second;
}

std::vector<const Command*> all_commands() {
  std::vector<const Command*> out;
  for (auto& [k, v] : commands()) out.push_back(&v);
  return out;
}

}  // namespace bp::cli
