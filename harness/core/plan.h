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
  const MethodVariant* method = nullptr;  // the configuration's stack of methods
  // "task(opt=v) / method(param=v)" or "task / w-rtn(bits=4) + kivi(bits=2)", plus " @ model" when the suite names
  // several models.
  std::string label;

  // The member filling the weights role, whose transform needs its own copy of the model; nullptr when none does.
  const StackMember* weight_member() const { return method->member_for(Role::Weights); }
  bool transforms_weights() const { return weight_member() != nullptr; }
};

// Every configuration of the suite, in plan order. Pointers refer into `suite`, which must outlive the plan.
std::vector<Configuration> expand_plan(const Suite& suite);

// Keeps the configurations whose label matches `regex` (ECMAScript, searched anywhere in the label).
// Throws InputError("--filter", "", ...) for an invalid expression.
std::vector<Configuration> filter_plan(const std::vector<Configuration>& plan, const std::string& regex);

// Execution order that loads each model as rarely as possible: grouped by model, and within a model the
// configurations on the unmodified weights first, then each weight-transformed variant together. Stable otherwise.
std::vector<Configuration> order_for_loading(const std::vector<Configuration>& plan);

// Key of the model instance a configuration runs on: the model (path + storage), plus the weight member's name and
// canonical parameters when the stack transforms weights (stacks sharing a weight member share the instance).
std::string model_instance_key(const Configuration& c);

}  // namespace bp
