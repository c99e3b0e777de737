// Every subcommand is parsed through its declared table (harness/cli/args.h): its --help is generated from the table
// and lists every option, an option outside the table is a usage error naming it, and the parser keeps its rules
// (ranges, repeats, required options, forwarding). Reads the registered tables in-process (the CLI's objects are
// linked into this test) and runs the real `bench` against them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/cli/args.h"
#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

TEST(CliTables, EveryCommandsHelpListsEveryOptionOfItsTable) {
  test::TempDir dir;
  const auto commands = cli::all_commands();
  ASSERT_GE(commands.size(), 12u);  // run, list, describe, show, export, merge, fetch-model, convert, generate, tokenize, compare, report
  for (const cli::Command* c : commands) {
    const cli::CommandSpec& spec = c->spec;
    if (!spec.forwards_to.empty()) {
      // Its --help is the script's own; the table declares no options of its own to list.
      EXPECT_TRUE(spec.options.empty()) << spec.name;
      continue;
    }
    auto h = test::run_bench({spec.name, "--help"}, dir.path(), dir.path());
    EXPECT_EQ(h.code, 0) << spec.name << "\n" << h.err;
    EXPECT_EQ(h.out, cli::help_text(spec)) << spec.name;
    EXPECT_TRUE(h.out.starts_with("usage: bench " + spec.name)) << h.out;
    for (const auto& o : spec.options) {
      const std::string form = o.takes_value ? o.name + " " + o.value_name : o.name;
      EXPECT_NE(h.out.find("\n  " + form + " "), std::string::npos) << spec.name << ": " << form << "\n" << h.out;
      EXPECT_NE(h.out.find(o.help), std::string::npos) << spec.name << ": " << o.name << "\n" << h.out;
    }
    for (const auto& p : spec.positionals)
      EXPECT_NE(h.out.find("\n  " + p.name), std::string::npos) << spec.name << ": " << p.name << "\n" << h.out;
  }
}

TEST(CliTables, AnUnknownOptionIsExit2NamingTheOption) {
  test::TempDir dir;
  for (const cli::Command* c : cli::all_commands()) {
    if (!c->spec.forwards_to.empty()) continue;  // the script judges its own arguments
    auto r = test::run_bench({c->spec.name, "--no-such-option"}, dir.path(), dir.path());
    EXPECT_EQ(r.code, 2) << c->spec.name << "\n" << r.err;
    EXPECT_NE(r.err.find("unknown option --no-such-option; see `bench " + c->spec.name + " --help`"),
              std::string::npos)
        << c->spec.name << "\n" << r.err;
  }
}

const cli::CommandSpec kToy{
    .name = "toy",
    .positionals = {{"A", "first"}, {.name = "B", .help = "the rest", .repeated = true}},
    .options = {{.name = "--n", .value_name = "N", .help = "a count", .range = cli::IntRange{1, 8}},
                {.name = "--req", .value_name = "X", .help = "needed", .required = true},
                {.name = "--kv", .value_name = "K=V", .help = "pairs", .repeated = true},
                {.name = "--flag", .takes_value = false, .help = "a flag"}},
};

std::string error_of(const cli::CommandSpec& spec, const std::vector<std::string>& args) {
  try {
    cli::parse_command(spec, args);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(CliTables, ParserAppliesTheTable) {
  const cli::ParsedArgs a =
      cli::parse_command(kToy, {"a", "b", "c", "--n=3", "--req", "x", "--kv", "p=1", "--kv", "q=2", "--flag"});
  EXPECT_EQ(a.positional, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(a.get_int("--n").value_or(0), 3);
  EXPECT_EQ(a.get("--req").value_or(""), "x");
  EXPECT_EQ(a.all("--kv"), (std::vector<std::string>{"p=1", "q=2"}));
  EXPECT_TRUE(a.flag("--flag"));
  EXPECT_NE(error_of(kToy, {"a", "b", "--req", "x", "--n", "9"}).find("--n: expected an integer in [1, 8], got \"9\""),
            std::string::npos);
  EXPECT_NE(error_of(kToy, {"a", "b"}).find("--req: expected --req X, got none"), std::string::npos);
  EXPECT_NE(error_of(kToy, {"a", "--req", "x"}).find("missing argument; see `bench toy --help`"), std::string::npos);
  EXPECT_NE(error_of(kToy, {"a", "b", "--req", "x", "--req", "y"}).find("option --req given twice"),
            std::string::npos);
  EXPECT_NE(error_of(kToy, {"a", "b", "--req", "x", "--flag=1"}).find("option --flag takes no value"),
            std::string::npos);
  EXPECT_TRUE(cli::parse_command(kToy, {"--help", "--n", "99"}).help);  // help wins over other mistakes
  const std::string help = cli::help_text(kToy);
  EXPECT_TRUE(help.starts_with("usage: bench toy A B... [--n N] --req X [--kv K=V ...] [--flag]\n")) << help;
  EXPECT_NE(help.find("a count (an integer in [1, 8])"), std::string::npos) << help;

  const cli::CommandSpec forward{.name = "fwd", .forwards_to = "reports/x.py"};
  const cli::ParsedArgs f = cli::parse_command(forward, {"--anything", "--help", "x"});
  EXPECT_FALSE(f.help);
  EXPECT_EQ(f.raw, (std::vector<std::string>{"--anything", "--help", "x"}));
}

}  // namespace
}  // namespace bp
