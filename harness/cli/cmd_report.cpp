// `bench report`: runs the Python report generator (reports/report.py) with the same arguments. The Python side owns
// the options and --help, so there is one definition of each; this file only finds the script and an interpreter.
// Also defines run_python_entry(), which `bench compare` (cmd_compare.cpp) uses the same way.
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/cli/python_entry.h"

namespace bp::cli {

namespace fs = std::filesystem;

namespace {

// Where reports/<script> is, in order: $BENCH_REPORTS_DIR; a `reports` folder beside the executable or above it (a
// build folder inside the source tree: build/bin/bench -> reports/); the source tree this file was compiled from
// (an out-of-tree build); the current directory.
std::string find_script(const std::string& script, std::vector<std::string>& searched) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("BENCH_REPORTS_DIR"); env && *env) dirs.emplace_back(env);
  char exe[PATH_MAX] = {0};
  if (ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1); n > 0) {
    for (fs::path p = fs::path(std::string(exe, (size_t)n)).parent_path(); !p.empty(); p = p.parent_path()) {
      dirs.push_back(p / "reports");
      if (p == p.root_path()) break;
    }
  }
  // __FILE__ is harness/cli/cmd_report.cpp under the source root (CMake passes absolute paths).
  if (fs::path src(__FILE__); src.is_absolute()) dirs.push_back(src.parent_path().parent_path().parent_path() / "reports");
  dirs.push_back(fs::current_path() / "reports");
  for (const auto& d : dirs) {
    fs::path candidate = d / script;
    searched.push_back(candidate.string());
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

// The interpreter: $BENCH_PYTHON; else the environment scripts/setup.sh made ($BENCH_VENV, or .cache/venv in the
// repository holding the script), which has the packages of requirements.txt; else python3 from PATH.
std::string find_python(const std::string& script_path) {
  if (const char* env = std::getenv("BENCH_PYTHON"); env && *env) return env;
  std::vector<fs::path> venvs;
  if (const char* env = std::getenv("BENCH_VENV"); env && *env) venvs.emplace_back(env);
  venvs.push_back(fs::path(script_path).parent_path().parent_path() / ".cache" / "venv");
  for (const auto& v : venvs) {
    fs::path py = v / "bin" / "python";
    if (access(py.c_str(), X_OK) == 0) return py.string();
  }
  return "python3";
}

}  // namespace

// Runs `PYTHON reports/<script> args...` (PYTHON as find_python chooses it) with this process's stdin, stdout and
// stderr, and returns its exit status, so `bench report`/`bench compare` exit exactly as the script does (2 for bad
// usage; 127 when no interpreter could be started).
int run_python_entry(const std::string& command, const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> searched;
  std::string path = find_script(script, searched);
  if (path.empty()) {
    std::fprintf(stderr, "bench %s: error: reports/%s not found; searched:\n", command.c_str(), script.c_str());
    for (const auto& s : searched) std::fprintf(stderr, "  %s\n", s.c_str());
    std::fprintf(stderr, "set BENCH_REPORTS_DIR to the repository's reports/ folder\n");
    return 2;
  }
  std::string python = find_python(path);
  std::vector<std::string> argv_s = {python, path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "bench %s: error: fork failed: %s\n", command.c_str(), std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "bench %s: error: cannot run %s (%s); install Python 3 with the packages of "
                 "requirements.txt (scripts/setup.sh does), or set BENCH_PYTHON\n",
                 command.c_str(), python.c_str(), std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "bench %s: error: waitpid failed: %s\n", command.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

namespace {

const CommandSpec kSpec{
    .name = "report",
    .summary = "plots and a self-contained report.html from a results database",
    .description = "Runs reports/report.py [options] and exits with its status.",
    // The Python side owns the options and --help, so there is one definition of each.
    .forwards_to = "reports/report.py",
};

int cmd_report(const ParsedArgs& a) { return run_python_entry("report", "report.py", a.raw); }

}  // namespace

BENCH_REGISTER_COMMAND(report, kSpec, cmd_report);

}  // namespace bp::cli
