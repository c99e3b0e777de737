#include "harness/core/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bp {

CollectingSink::CollectingSink(const TaskInfo& task, std::vector<std::string> selected)
    : task_(task), selected_(std::move(selected)) {}

void CollectingSink::metric(const std::string& name, double value, const std::string& unit, int rep,
                            const json& labels) {
  auto declared = std::find_if(task_.metrics.begin(), task_.metrics.end(), [&](const auto& m) { return m.name == name; });
  if (declared == task_.metrics.end())
    throw std::runtime_error(fmt::format("task \"{}\" reported metric \"{}\", which its TaskInfo::metrics does not declare",
                                         task_.name, name));
  if (declared->unit != unit)
    throw std::runtime_error(fmt::format("task \"{}\" reported metric \"{}\" in unit \"{}\"; it declares \"{}\"",
                                         task_.name, name, unit, declared->unit));
  if (!std::isfinite(value))
    throw std::runtime_error(fmt::format("task \"{}\": metric \"{}\" {} is not a finite number ({})", task_.name, name,
                                         labels.dump(), value));
  if (!labels.is_object())
    throw std::runtime_error(fmt::format("task \"{}\": labels of metric \"{}\" must be a JSON object, got {}",
                                         task_.name, name, labels.dump()));
  if (rep < 0) throw std::runtime_error(fmt::format("task \"{}\": metric \"{}\" has repetition {} < 0", task_.name, name, rep));
  std::string key = name + "\n" + labels.dump() + "\n" + std::to_string(rep);
  if (!metric_keys_.insert(key).second)
    throw std::runtime_error(fmt::format("task \"{}\" reported metric \"{}\" {} repetition {} twice", task_.name, name,
                                         labels.dump(), rep));
  if (!selected_.empty() && std::find(selected_.begin(), selected_.end(), name) == selected_.end()) return;
  results_.metrics.push_back(MetricValue{name, labels, value, unit, rep, better_name(declared->better)});
}

void CollectingSink::item(const std::string& key, double score, const json& detail) {
  if (!std::isfinite(score))
    throw std::runtime_error(fmt::format("task \"{}\": item \"{}\" has a score that is not finite ({})", task_.name, key, score));
  if (!item_keys_.insert(key).second)
    throw std::runtime_error(fmt::format("task \"{}\" reported item \"{}\" twice", task_.name, key));
  results_.items.push_back(ItemValue{key, score, detail});
}

}  // namespace bp
