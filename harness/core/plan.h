#pragma once
// A suite expanded into concrete configurations (model x task variant x method variant), filtered and ordered.
#include <string>
#include <vector>

#include "harness/core/suite.h"

namespace bp {

struct Configuration {
  size_t plan_index = 0;  // position in the suite's order: models, then tasks, then methods (innermost)
  const ModelSpec* model = nullptr;
  const TaskVariant* task = nullptr;
  const MethodVariant* method = nullptr;
  std::string label;      // "task(opt=v) / method(param=v)" plus " @ model" when the suite names several models

  // Weight methods (and composites with a weight transform) need their own transformed copy of the model.
  bool transforms_weights() const { return static_cast<bool>(method->info->make_weight_transform); }
};

// Every configuration of the suite, in plan order. Pointers refer into `suite`, which must outlive the plan.
std::vector<Configuration> expand_plan(const Suite& suite);

// Keeps the configurations whose label matches `regex` (ECMAScript, searched anywhere in the label).
// Throws InputError("--filter", "", ...) for an invalid expression.
std::vector<Configuration> filter_plan(const std::vector<Configuration>& plan, const std::string& regex);

// Execution order that loads each model as rarely as possible: grouped by model, and within a model the
// configurations on the unmodified weights first, then each weight-transformed variant together. Stable otherwise.
std::vector<Configuration> order_for_loading(const std::vector<Configuration>& plan);

// Key of the model instance a configuration runs on: the model (path + storage), plus the weight method's label
// when it transforms weights.
std::string model_instance_key(const Configuration& c);

}  // namespace bp
