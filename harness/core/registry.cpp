#include "harness/core/registry.h"

#include <cstdio>
#include <cstdlib>

#include "harness/core/task.h"

namespace bp {

const char* method_kind_name(MethodKind k) {
  switch (k) {
    case MethodKind::KvCache: return "kv-cache";
    case MethodKind::Weight: return "weight";
    case MethodKind::Token: return "attention/token";
    case MethodKind::Composite: return "composite";
  }
  return "?";
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
