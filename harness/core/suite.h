#pragma once
// Suite files: which model(s), which tasks (with options and sweeps), which methods (with parameters and sweeps),
// and the run settings. Parsing validates everything that can be validated without running (types, ranges,
// registry names, sweeps, duplicates) and expands the sweeps into variants; suites/README.md is the format's
// reference. Every error is an InputError naming the file, the JSON pointer and what was expected.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/common/param_schema.h"
#include "harness/core/registry.h"
#include "harness/core/task.h"
#include "harness/runtime/model.h"

namespace bp {

struct ModelSpec {
  std::string name;      // registry name, empty when the suite gave a path
  std::string path;      // file or directory to load (registry: its cache path; relative paths resolved)
  rt::WeightStorage storage = rt::WeightStorage::F32;
  std::string pointer;   // where the suite declares it ("/model", "/model/1")
  const char* storage_name() const { return storage == rt::WeightStorage::F16 ? "f16" : "f32"; }
  // Short name for plans and labels: the registry name or the file name, with "[f16]" when stored as F16.
  std::string label() const;
};

// One task with concrete options (one point of its sweep).
struct TaskVariant {
  const TaskInfo* info = nullptr;
  Params options;        // canonical: every option present
  json chosen;           // the options the suite set itself (fixed and swept), for labels
  std::string pointer;   // "/tasks/0" or "/latency"
  std::string label() const;
};

// One member of a stack with concrete parameters.
struct StackMember : MethodUse {
  json chosen;           // the parameters the suite set itself (fixed and swept), for labels
  std::string pointer;   // "/methods/0" for a plain entry, "/methods/2/stack/1" for a stack member
  std::string label() const;  // "kivi(bits=2)"
};

// One configuration's methods: a stack of one or more members holding each role at most once, in role order
// (weights, tokens, kv-cache). A plain {"method": ...} entry is a stack of one. One point of the entry's sweeps.
struct MethodVariant {
  std::vector<StackMember> members;
  std::string pointer;   // of the entry: "/methods/0"
  // "w-rtn(bits=4) + kivi(bits=2)": the members' labels in role order.
  std::string label() const;
  // The configuration's identity of methods: [{"method": name, "params": {every parameter}}, ...] in role order,
  // compact JSON with sorted keys.
  std::string canonical() const;
  // "w-rtn+kivi"
  std::string names() const;
  // The member filling `r`, or nullptr.
  const StackMember* member_for(Role r) const;
  std::vector<const MethodUse*> uses() const;
  // The reference configuration for KL divergence: fp16 alone with its default parameters.
  bool is_reference() const;
};

struct Suite {
  std::string file;      // as given on the command line
  std::string dir;       // the file's directory: relative paths inside the suite are relative to it
  std::string text;      // the exact bytes (stored with the run)
  std::string sha256;    // of `text`
  std::string name, description;
  std::vector<ModelSpec> models;
  std::optional<std::string> data_root;  // resolved
  int threads = 1;
  uint64_t seed = 0;
  std::string device = "cpu";  // "cpu" | "cuda" (rt::parse_device)
  std::vector<TaskVariant> tasks;
  std::vector<MethodVariant> methods;
  std::vector<std::string> metrics;  // empty: every metric the tasks report
};

// Reads and validates a suite file.
Suite load_suite(const std::string& path);
// Validates suite text; `file` is used in messages, `dir` resolves relative paths.
Suite parse_suite(const std::string& text, const std::string& file, const std::string& dir);

// Suite-level limits (documented in suites/README.md).
inline constexpr int kMaxThreads = 1024;

}  // namespace bp
