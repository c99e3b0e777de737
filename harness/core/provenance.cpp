#include "harness/core/provenance.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "harness/core/file_hash.h"
#include "harness/core/subprocess.h"
#include "harness/core/version.h"

// Build description, defined by the top-level CMakeLists.txt (flags added for this file in harness/CMakeLists.txt).
#ifndef BENCH_BUILD_FLAGS
#define BENCH_BUILD_FLAGS ""
#endif

namespace bp {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return "unknown";
}

std::string os_description() {
  struct utsname u {};
  std::string s = "unknown";
  if (uname(&u) == 0) s = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string name = line.substr(12);
      if (name.size() >= 2 && name.front() == '"') name = name.substr(1, name.size() - 2);
      s += " (" + name + ")";
    }
  return s;
}

void read_git(Provenance& p) {
  p.git_commit = "unknown";
  const std::string src = BENCH_SOURCE_DIR;
  if (!program_available("git")) return;
  ProcessResult head = run_process({"git", "-C", src, "rev-parse", "HEAD"});
  if (head.exit_code != 0) return;
  p.git_commit = trim(head.output);
  // --no-optional-locks: reading the status must not write the index of a tree someone else is working in.
  ProcessResult status = run_process({"git", "-C", src, "--no-optional-locks", "status", "--porcelain"});
  if (status.exit_code == 0) p.git_dirty = !trim(status.output).empty();
}

void read_gpu(Provenance& p) {
  if (!program_available("nvidia-smi")) return;
  ProcessResult q = run_process({"nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"});
  if (q.exit_code != 0) return;
  std::string first = trim(q.output.substr(0, q.output.find('\n')));
  auto comma = first.find(',');
  p.gpu_model = trim(first.substr(0, comma));
  if (comma != std::string::npos) p.gpu_driver = trim(first.substr(comma + 1));
  ProcessResult banner = run_process({"nvidia-smi"});
  std::smatch m;
  if (std::regex_search(banner.output, m, std::regex("CUDA Version: *([0-9.]+)"))) p.cuda_version = m[1];
}

}  // namespace

std::string current_build_id() { return sha256_file("/proc/self/exe"); }

Provenance collect_provenance() {
  Provenance p;
  read_git(p);
  p.compiler = BENCH_COMPILER;
  p.build_type = BENCH_BUILD_TYPE;
  p.build_flags = trim(BENCH_BUILD_FLAGS);
  p.build_id = current_build_id();
  p.bench_version = kBenchVersion;
  p.cpu_model = cpu_model_name();
  p.cpu_cores = (int)std::thread::hardware_concurrency();
  read_gpu(p);
  p.os = os_description();
  char host[256] = {0};
  p.host = gethostname(host, sizeof host - 1) == 0 ? host : "unknown";
  return p;
}

}  // namespace bp
