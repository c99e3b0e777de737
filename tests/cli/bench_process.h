#pragma once
// Running the real `bench` binary (BENCH_BINARY) as a child process, with its stdout and stderr captured, an
// optional working directory and extra environment variables.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/test_env.h"

namespace bp::test {

struct BenchResult {
  int code = -1;  // exit code, or 128 + signal
  std::string out, err;
};

class BenchProcess {
 public:
  // Starts `bench ARGS...`; output goes to files under `scratch_dir`.
  BenchProcess(const std::vector<std::string>& args, const std::string& scratch_dir, const std::string& cwd = "",
               const std::map<std::string, std::string>& env = {}) {
    static int counter = 0;
    std::string stem = scratch_dir + "/bench-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    out_path_ = stem + ".out";
    err_path_ = stem + ".err";
    // Absolute before the child changes directory.
    std::vector<std::string> argv = {std::filesystem::absolute(bench_binary()).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      execv(cargs[0], cargs.data());
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  BenchResult wait() {
    BenchResult r;
    int status = 0;
    waitpid(pid_, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out_path_);
    r.err = slurp(err_path_);
    return r;
  }

 private:
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  pid_t pid_ = -1;
  std::string out_path_, err_path_;
};

inline BenchResult run_bench(const std::vector<std::string>& args, const std::string& scratch_dir,
                             const std::string& cwd = "", const std::map<std::string, std::string>& env = {}) {
  return BenchProcess(args, scratch_dir, cwd, env).wait();
}

}  // namespace bp::test
