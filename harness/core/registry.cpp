#include "harness/core/registry.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>

#include <fmt/format.h>

#include "harness/core/task.h"

namespace bp {

namespace {
bool has_role(const std::vector<Role>& roles, Role r) { return std::find(roles.begin(), roles.end(), r) != roles.end(); }
}  // namespace

const char* role_name(Role r) {
  switch (r) {
    case Role::Weights: return "weights";
    case Role::Tokens: return "tokens";
    case Role::KvCache: return "kv-cache";
  }
  return "?";
}

std::string roles_text(const std::vector<Role>& roles) {
  std::string s;
  for (Role r : kRoleOrder)
    if (has_role(roles, r)) s += (s.empty() ? "" : "+") + std::string(role_name(r));
  return s;
}

bool MethodInfo::fills(Role r) const { return has_role(roles, r); }

std::string MethodInfo::refuses(const MethodInfo& other) const {
  for (const auto& [name, why] : composes.refused)
    if (name == other.name) return why;
  for (Role r : other.roles)
    if (!has_role(composes.partners, r)) {
      if (composes.partners.empty()) return fmt::format("\"{}\" runs alone, in a stack of one", name);
      return fmt::format("\"{}\" stacks only with methods for {}; \"{}\" fills {}", name, partners_text(), other.name,
                         role_name(r));
    }
  return "";
}

std::string MethodInfo::partners_text() const {
  std::string s;
  for (Role r : kRoleOrder)
    if (has_role(composes.partners, r)) s += (s.empty() ? "" : " or ") + std::string(role_name(r));
  return s.empty() ? "nothing" : s;
}

std::string MethodInfo::composition_text() const {
  std::string s = fmt::format("fills {}; ", roles_text(roles));
  if (composes.partners.empty()) {
    s += "runs alone (a stack of one)";
  } else {
    s += "stacks with a method for " + partners_text();
    for (const auto& [name, why] : composes.refused) s += fmt::format(", but not with {} ({})", name, why);
  }
  return s + "; a stack holds at most one method per role (weights, tokens, kv-cache)";
}

namespace {
// Function-local statics: registration runs during static initialisation of other translation units, whose order
// relative to this one is unspecified.
std::map<std::string, MethodInfo>& methods() {
  static std::map<std::string, MethodInfo> m;
  return m;
}
std::map<std::string, TaskInfo>& tasks() {
  static std::map<std::string, TaskInfo> t;
  return t;
}
}  // namespace

bool MethodRegistry::add(MethodInfo info) {
  auto& m = methods();
  if (info.name.empty() || m.count(info.name)) {
    std::fprintf(stderr, "bench: method registered twice or without a name: '%s'\n", info.name.c_str());
    std::abort();
  }
  if (info.roles.empty()) {
    std::fprintf(stderr, "bench: method '%s' is registered without a role\n", info.name.c_str());
    std::abort();
  }
  std::string name = info.name;
  m.emplace(std::move(name), std::move(info));
  return true;
}

const MethodInfo* MethodRegistry::find(const std::string& name) {
  auto& m = methods();
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

std::vector<const MethodInfo*> MethodRegistry::all() {
  std::vector<const MethodInfo*> out;
  for (auto& [k, v] : methods()) out.push_back(&v);
  return out;
}

bool TaskRegistry::add(TaskInfo info) {
  auto& t = tasks();
  if (info.name.empty() || t.count(info.name)) {
    std::fprintf(stderr, "bench: task registered twice or without a name: '%s'\n", info.name.c_str());
    std::abort();
  }
  std::string name = info.name;
  t.emplace(std::move(name), std::move(info));
  return true;
}

const TaskInfo* TaskRegistry::find(const std::string& name) {
  auto& t = tasks();
  auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

std::vector<const TaskInfo*> TaskRegistry::all() {
  std::vector<const TaskInfo*> out;
  for (auto& [k, v] : tasks()) out.push_back(&v);
  return out;
}

}  // namespace bp
