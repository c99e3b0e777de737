#include "harness/core/plan.h"

#include <algorithm>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "harness/common/error.h"

namespace bp {

namespace {
std::string model_key(const ModelSpec& m) { return fmt::format("{}|{}", m.path, m.storage_name()); }
}  // namespace

std::vector<Configuration> expand_plan(const Suite& suite) {
  std::vector<Configuration> plan;
  const bool several_models = suite.models.size() > 1;
  for (const auto& m : suite.models)
    for (const auto& t : suite.tasks)
      for (const auto& me : suite.methods) {
        Configuration c;
        c.plan_index = plan.size();
        c.model = &m;
        c.task = &t;
        c.method = &me;
        c.label = t.label() + " / " + me.label() + (several_models ? " @ " + m.label() : "");
        plan.push_back(std::move(c));
      }
  return plan;
}

std::vector<Configuration> filter_plan(const std::vector<Configuration>& plan, const std::string& regex) {
  std::regex re;
  try {
    re = std::regex(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw InputError("--filter", "", "expected a valid regular expression, got \"" + regex + "\" (" + e.what() + ")");
  }
  std::vector<Configuration> out;
  for (const auto& c : plan)
    if (std::regex_search(c.label, re)) out.push_back(c);
  return out;
}

std::string model_instance_key(const Configuration& c) {
  std::string key = model_key(*c.model);
  if (const StackMember* w = c.weight_member())
    key.append("|").append(w->info->name).append(w->params.canonical_text());
  return key;
}

std::vector<Configuration> order_for_loading(const std::vector<Configuration>& plan) {
  // Rank of each model and of each weight-transformed instance by first appearance in the plan.
  std::map<std::string, size_t> model_rank, instance_rank;
  for (const auto& c : plan) {
    model_rank.emplace(model_key(*c.model), model_rank.size());
    if (c.transforms_weights()) instance_rank.emplace(model_instance_key(c), instance_rank.size() + 1);
  }
  std::vector<Configuration> out = plan;
  std::stable_sort(out.begin(), out.end(), [&](const Configuration& a, const Configuration& b) {
    size_t ma = model_rank.at(model_key(*a.model));
    size_t mb = model_rank.at(model_key(*b.model));
    if (ma != mb) return ma < mb;
    size_t ia = a.transforms_weights() ? instance_rank.at(model_instance_key(a)) : 0;
    size_t ib = b.transforms_weights() ? instance_rank.at(model_instance_key(b)) : 0;
    return ia < ib;
  });
  return out;
}

}  // namespace bp
