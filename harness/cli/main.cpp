// `bench`: the BenchPress command line. Subcommands live in cmd_*.cpp and register themselves (command.h).
#include <cstdio>
#include <new>
#include <stdexcept>
#include <exception>
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/common/error.h"

static void print_usage(FILE* f) {
  std::fprintf(f, "usage: bench <command> [options]   (bench <command> --help for details)\n\ncommands:\n");
  for (const auto* c : bp::cli::all_commands()) std::fprintf(f, "  %-10s %s\n", c->spec.name.c_str(), c->spec.summary.c_str());
}

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  const bp::cli::Command* cmd = bp::cli::find_command(name);
  if (!cmd) {
    std::fprintf(stderr, "bench: unknown command '%s'\n", name.c_str());
    print_usage(stderr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    // One parser for every command, against its table; --help is printed from the same table.
    const bp::cli::ParsedArgs parsed = bp::cli::parse_command(cmd->spec, args);
    if (parsed.help) {
      std::fputs(bp::cli::help_text(cmd->spec).c_str(), stdout);
      return 0;
    }
    return cmd->run(parsed);
  } catch (const bp::InputError& e) {
    std::fprintf(stderr, "bench %s: error: %s\n", name.c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    // Exit code 2 is for the user's input only: running out of memory is the machine's limit, not bad input.
    std::fprintf(stderr, "bench %s: error: out of memory\n", name.c_str());
    return 1;
  } catch (const std::logic_error& e) {
    std::fprintf(stderr, "bench %s: internal error (a bug in bench; please report it): %s\n", name.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench %s: error: %s\n", name.c_str(), e.what());
    return 1;
  }
}
