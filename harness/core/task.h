#pragma once
// Evaluation tasks (datasets/<task>/): registered like methods, with an options schema, the data files they read
// (checked against their sha256 before anything runs), the protocol name and version they implement, and a run()
// that drives the model through the runtime's public API and reports metrics and per-item results.
//
//   BENCH_REGISTER_TASK(wikitext2) {
//     bp::TaskInfo t;
//     t.name = "wikitext2"; t.protocol = "llama-perplexity"; t.protocol_version = 1; ...
//     return t;
//   }
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness/common/param_schema.h"
#include "harness/runtime/model.h"

namespace bp {

// A data file a task reads: path relative to the data root, the sha256 it must have, and where `bench fetch-data`
// downloads it from (the canonical public copy, pinned to a commit; empty for files a suite names itself, which the
// user provides). The URL is not part of any identity: the hash is.
struct DataFile {
  std::string relative_path;
  std::string sha256;
  std::string url = {};
};

// Which way a metric is better, declared with the metric (it drives `bench compare`'s verdicts and the report's
// Pareto fronts, and is stored with every value). None: a count or a property of the setting, never judged.
enum class Better { Lower, Higher, None };
inline const char* better_name(Better b) { return b == Better::Lower ? "lower" : b == Better::Higher ? "higher" : "none"; }

// A metric a task reports: its name, its unit ("" for a pure number) and which way is better.
struct MetricSpec {
  std::string name;
  std::string unit;
  Better better = Better::None;
};

// Where results go. Every call may be made from the task's thread only.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // One value of a metric. `rep` numbers repetitions of timed metrics (0 for single values). `labels` qualifies the
  // value (e.g. {"context": 2048} or {"depth": 0.5}); a metric is identified by (name, labels).
  virtual void metric(const std::string& name, double value, const std::string& unit, int rep = 0,
                      const json& labels = json::object()) = 0;
  // One item's outcome (for paired comparisons between configurations): a stable key, a score (1/0 for
  // accuracy, NLL for perplexity tokens, ...) and free-form detail.
  virtual void item(const std::string& key, double score, const json& detail = json::object()) = 0;
};

// A per-run store of reference data shared across configurations (e.g. the fp16 baseline's log-probabilities for
// KL divergence), keyed by strings that include everything the data depends on.
class ReferenceCache {
 public:
  std::shared_ptr<const std::vector<float>> get(const std::string& key) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = data_.find(key);
    return it == data_.end() ? nullptr : it->second;
  }
  void put(const std::string& key, std::vector<float> v) {
    std::lock_guard<std::mutex> l(mu_);
    data_[key] = std::make_shared<const std::vector<float>>(std::move(v));
  }
  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    data_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::vector<float>>> data_;
};

struct TaskContext {
  rt::Model* model = nullptr;      // the configuration's model (weight methods already applied)
  Params options;                  // the task's canonical options
  std::string data_root;           // resolved data directory
  int threads = 1;
  uint64_t seed = 0;
  // A fresh session running the configuration's method (its KV cache and token selector).
  std::function<std::unique_ptr<rt::Session>()> new_session;
  // A fresh session of the reference configuration: the `fp16` cache on the unmodified model.
  std::function<std::unique_ptr<rt::Session>()> new_reference_session;
  // Whether this configuration is the reference itself (then a task measuring against the reference reuses its
  // own numbers instead of running it twice). Set by the runner; tasks never compare method names.
  bool is_reference = false;
  ReferenceCache* reference_cache = nullptr;
  ResultSink* sink = nullptr;
  // Progress within the task, 0..1, with a short label; cheap to call.
  std::function<void(double, const std::string&)> progress = [](double, const std::string&) {};
};

class Task {
 public:
  virtual ~Task() = default;
  virtual void run(TaskContext& ctx) = 0;
};

struct TaskInfo {
  std::string name;          // registry name used in suites, e.g. "wikitext2"
  std::string description;   // one line
  std::string protocol;      // e.g. "llama-perplexity", "lm-eval-loglikelihood", "passkey"
  int protocol_version = 1;
  ParamSchema options;
  // The metrics the task reports, each with its unit and which way is better, e.g. {"ppl", "", Better::Lower}:
  // suites may select among them; reporting an undeclared metric, or one in another unit, is an error.
  std::vector<MetricSpec> metrics;
  std::function<void(const Params&, const std::string& file, const std::string& pointer)> validate;
  // Files read under the data root for the given options (verified by sha256 before the task runs).
  std::function<std::vector<DataFile>(const Params&)> data_files;
  std::function<std::unique_ptr<Task>(const Params&)> make;
};

class TaskRegistry {
 public:
  static bool add(TaskInfo info);
  static const TaskInfo* find(const std::string& name);
  static std::vector<const TaskInfo*> all();
};

}  // namespace bp

#define BENCH_REGISTER_TASK(ident)                                                                    \
  static ::bp::TaskInfo bench_task_info_##ident();                                                   \
  [[maybe_unused]] static const bool bench_task_registered_##ident =                                \
      ::bp::TaskRegistry::add(bench_task_info_##ident());                                            \
  static ::bp::TaskInfo bench_task_info_##ident()
