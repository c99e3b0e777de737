#pragma once
// What one configuration produced, collected in memory while its task runs and committed to the store in one
// transaction when (and only when) the task finished: a failed configuration never leaves half its results behind.
#include <string>
#include <unordered_set>
#include <vector>

#include "harness/core/task.h"

namespace bp {

struct MetricValue {
  std::string name;
  json labels = json::object();
  double value = 0;
  std::string unit;
  int rep = 0;
  std::string better = "none";  // which way is better, from the task's declaration: "lower", "higher", "none"
};

struct ItemValue {
  std::string key;
  double score = 0;
  json detail = json::object();
};

struct ConfigurationResults {
  std::vector<MetricValue> metrics;
  std::vector<ItemValue> items;
};

// The ResultSink a task writes to. It enforces the task's declared contract, throwing std::runtime_error (the
// configuration then fails with that message): metric names and units must be among TaskInfo::metrics, values
// finite, labels an object, (name, labels, rep) and item keys unique. Metrics outside the suite's selection are
// dropped.
class CollectingSink : public ResultSink {
 public:
  CollectingSink(const TaskInfo& task, std::vector<std::string> selected_metrics);
  void metric(const std::string& name, double value, const std::string& unit, int rep = 0,
              const json& labels = json::object()) override;
  void item(const std::string& key, double score, const json& detail = json::object()) override;

  const ConfigurationResults& results() const { return results_; }

 private:
  const TaskInfo& task_;
  std::vector<std::string> selected_;
  ConfigurationResults results_;
  // Every (name, labels, rep) and item key seen: a task may report many thousands of items (e.g. one per token).
  std::unordered_set<std::string> metric_keys_, item_keys_;
};

}  // namespace bp
