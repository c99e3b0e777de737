#pragma once
// Where and how a run was made: source revision, build, machine. Read at run time (git is asked in the source
// directory the binary was built from), stored in the `runs` table.
#include <optional>
#include <string>

#include "harness/common/param_schema.h"

namespace bp {

struct Provenance {
  std::string git_commit;           // "unknown" when git or the source directory is unavailable
  std::optional<bool> git_dirty;    // uncommitted changes (tracked or untracked, ignored files excluded)
  std::string compiler, build_type, build_flags;
  std::string build_id;             // sha256 of the running executable
  std::string bench_version;
  std::string cpu_model;
  int cpu_cores = 0;                // logical processors online
  std::string gpu_model, gpu_driver, cuda_version;  // empty without nvidia-smi / a GPU
  std::string os;                   // uname: system, release, machine (+ distribution name)
  std::string host;
};

// Collects everything (runs git and nvidia-smi when present; about 10-50 ms).
Provenance collect_provenance();
// sha256 of /proc/self/exe: identifies the build in configuration identities.
std::string current_build_id();

}  // namespace bp
