#include "harness/core/suite.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/json_file.h"
#include "harness/core/model_registry.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + json(names[i]).dump();
  return "[" + s + "]";
}

std::string got(const json& v) { return json_excerpt(v); }

// Checks that `v` is an object whose keys are all in `allowed`; `what` names the object in messages.
void check_object(const json& v, const std::string& file, const std::string& ptr, const std::string& what,
                  const std::vector<std::string>& allowed) {
  if (!v.is_object()) throw InputError(file, ptr, fmt::format("expected {} (a JSON object), got {}", what, got(v)));
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
      throw InputError(file, json_pointer_append(ptr, it.key()),
                       fmt::format("unknown key \"{}\"; expected one of {}", it.key(), quoted_list(allowed)));
  }
}

const json& require(const json& obj, const std::string& key, const std::string& file, const std::string& ptr,
                    const std::string& expectation) {
  if (!obj.contains(key))
    throw InputError(file, ptr, fmt::format("missing key \"{}\"; expected {}", key, expectation));
  return obj.at(key);
}

std::string require_string(const json& v, const std::string& file, const std::string& ptr,
                           const std::string& expectation) {
  if (!v.is_string() || v.get<std::string>().empty())
    throw InputError(file, ptr, fmt::format("expected {}, got {}", expectation, got(v)));
  return v.get<std::string>();
}

long long require_int(const json& v, long long lo, long long hi, const std::string& file, const std::string& ptr,
                      const std::string& expectation) {
  // nlohmann stores non-negative integers as unsigned: compare those without converting (they may exceed long long).
  bool ok = false;
  if (v.is_number_unsigned()) {
    unsigned long long u = v.get<unsigned long long>();
    ok = (lo <= 0 || u >= (unsigned long long)lo) && u <= (unsigned long long)hi;
  } else if (v.is_number_integer()) {
    ok = v.get<long long>() >= lo && v.get<long long>() <= hi;
  }
  if (!ok) throw InputError(file, ptr, fmt::format("expected {}, got {}", expectation, got(v)));
  return v.get<long long>();
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string label_of(const std::string& name, const json& chosen) {
  if (chosen.empty()) return name;
  std::string s = name + "(";
  bool first = true;
  for (auto it = chosen.begin(); it != chosen.end(); ++it) {
    s += (first ? "" : ",") + it.key() + "=" + value_text(it.value());
    first = false;
  }
  return s + ")";
}

std::string resolve_path(const std::string& p, const std::string& dir) {
  fs::path path(p);
  if (path.is_relative()) path = fs::path(dir) / path;
  return path.lexically_normal().string();
}

// ---- model ---------------------------------------------------------------------------------------------------

std::vector<std::string> registry_model_names() {
  std::vector<std::string> names;
  for (const auto& e : model_entries()) names.push_back(e.name);
  return names;
}

const char* kModelExpectation =
    "a model: a registry name, a path to a .gguf file or model directory, or {\"name\"|\"path\": ..., "
    "\"storage\": \"f32\"|\"f16\"}";

ModelSpec parse_model_name_or_path(const json& v, const std::string& file, const std::string& ptr,
                                   const std::string& dir, bool as_path) {
  ModelSpec m;
  m.pointer = ptr;
  std::string s = require_string(v, file, ptr, as_path ? "a path to a .gguf file or model directory" : kModelExpectation);
  bool looks_like_path = s.find('/') != std::string::npos || s.ends_with(".gguf");
  if (!as_path && !looks_like_path) {
    const ModelEntry* e = find_model_entry(s);
    if (!e)
      throw InputError(file, ptr,
                       fmt::format("unknown model \"{}\"; expected a registry name (one of {}) or a path to a .gguf "
                                   "file or model directory (a path contains '/' or ends in .gguf)",
                                   s, quoted_list(registry_model_names())));
    m.name = e->name;
    m.path = model_cache_path(*e);
    return m;
  }
  m.path = resolve_path(s, dir);
  return m;
}

ModelSpec parse_model(const json& v, const std::string& file, const std::string& ptr, const std::string& dir) {
  if (v.is_string()) return parse_model_name_or_path(v, file, ptr, dir, false);
  if (!v.is_object()) throw InputError(file, ptr, fmt::format("expected {}, got {}", kModelExpectation, got(v)));
  check_object(v, file, ptr, "a model", {"name", "path", "storage"});
  if (v.contains("name") == v.contains("path"))
    throw InputError(file, ptr, "expected exactly one of \"name\" (a registry name) and \"path\" (a file or directory)");
  ModelSpec m = v.contains("name")
                    ? parse_model_name_or_path(v.at("name"), file, json_pointer_append(ptr, "name"), dir, false)
                    : parse_model_name_or_path(v.at("path"), file, json_pointer_append(ptr, "path"), dir, true);
  if (v.contains("name") && m.name.empty())
    throw InputError(file, json_pointer_append(ptr, "name"),
                     fmt::format("expected a registry name (one of {}), got {}", quoted_list(registry_model_names()),
                                 got(v.at("name"))));
  m.pointer = ptr;
  if (v.contains("storage")) {
    const json& s = v.at("storage");
    if (s == "f32") m.storage = rt::WeightStorage::F32;
    else if (s == "f16") m.storage = rt::WeightStorage::F16;
    else throw InputError(file, json_pointer_append(ptr, "storage"), fmt::format("expected one of [\"f32\", \"f16\"], got {}", got(s)));
  }
  return m;
}

// ---- variants (tasks and methods share the sweep logic) --------------------------------------------------------

struct EntryShape {
  std::string name;      // registry name
  json fixed;            // fixed options/params (object, possibly empty)
  json sweep;            // object of non-empty lists (possibly empty)
  std::string pointer;   // of the entry
  std::string fixed_key; // "options" or "params"
};

// Structural checks of "sweep": an object of non-empty lists of distinct values, no key also fixed.
void check_sweep_shape(const EntryShape& e, const std::string& file) {
  std::string sp = json_pointer_append(e.pointer, "sweep");
  if (!e.sweep.is_object())
    throw InputError(file, sp, fmt::format("expected an object mapping names to lists of values, got {}", got(e.sweep)));
  for (auto it = e.sweep.begin(); it != e.sweep.end(); ++it) {
    std::string kp = json_pointer_append(sp, it.key());
    if (!it.value().is_array() || it.value().empty())
      throw InputError(file, kp, fmt::format("expected a non-empty list of values to sweep, got {}", got(it.value())));
    if (e.fixed.contains(it.key()))
      throw InputError(file, kp,
                       fmt::format("\"{}\" is both fixed (in {}) and swept; expected it in only one of them", it.key(),
                                   json_pointer_append(e.pointer, e.fixed_key)));
    const json& list = it.value();
    for (size_t j = 0; j < list.size(); ++j)
      for (size_t i = 0; i < j; ++i)
        if (list[i] == list[j])
          throw InputError(file, json_pointer_append(kp, j),
                           fmt::format("duplicate sweep value {} (also at {}); expected distinct values", got(list[j]),
                                       json_pointer_append(kp, i)));
  }
}

// Expands fixed + sweep into canonical parameter sets (cartesian product; the first key in sorted order varies
// slowest). Each value is validated at its own pointer.
std::vector<std::pair<Params, json>> expand_entry(const EntryShape& e, const ParamSchema& schema,
                                                  const std::string& file, const std::string& what,
                                                  const std::function<void(const Params&, const std::string&, const std::string&)>& validate) {
  std::string sp = json_pointer_append(e.pointer, "sweep");
  // The latency sugar has no "options" level: its object is the options.
  std::string fp = e.fixed_key.empty() ? e.pointer : json_pointer_append(e.pointer, e.fixed_key);
  // Fixed values first, so their errors point into the fixed object.
  schema.canonicalize(e.fixed, file, fp);
  std::vector<std::string> names;
  for (const auto& s : schema.specs()) names.push_back(s.name);
  for (auto it = e.sweep.begin(); it != e.sweep.end(); ++it) {
    std::string kp = json_pointer_append(sp, it.key());
    const ParamSpec* spec = schema.find(it.key());
    if (!spec)
      throw InputError(file, kp,
                       names.empty() ? fmt::format("cannot sweep \"{}\": \"{}\" has no {}s", it.key(), e.name, what)
                                     : fmt::format("cannot sweep \"{}\": not a {} of \"{}\"; expected one of {}",
                                                   it.key(), what, e.name, quoted_list(names)));
    for (size_t j = 0; j < it.value().size(); ++j) schema.check_value(*spec, it.value()[j], file, json_pointer_append(kp, j));
  }
  std::vector<json> points{json::object()};
  for (auto it = e.sweep.begin(); it != e.sweep.end(); ++it) {
    std::vector<json> next;
    for (const auto& p : points)
      for (const auto& v : it.value()) {
        json q = p;
        q[it.key()] = v;
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  std::vector<std::pair<Params, json>> out;
  for (const auto& p : points) {
    json given = e.fixed;
    given.update(p);
    Params params(schema.canonicalize(given, file, e.pointer));
    if (validate) validate(params, file, e.pointer);
    // The label shows what the suite chose, in canonical form (4.0 -> 4 for integers, ...).
    json chosen = json::object();
    for (auto it = given.begin(); it != given.end(); ++it) chosen[it.key()] = params.values().at(it.key());
    out.emplace_back(std::move(params), std::move(chosen));
  }
  return out;
}

EntryShape entry_shape(const json& v, const std::string& file, const std::string& ptr, const std::string& name_key,
                       const std::string& fixed_key, const std::string& what) {
  check_object(v, file, ptr, fmt::format("a {} entry", what), {name_key, fixed_key, "sweep"});
  EntryShape e;
  e.pointer = ptr;
  e.fixed_key = fixed_key;
  e.name = require_string(require(v, name_key, file, ptr, fmt::format("the {} name", what)), file,
                          json_pointer_append(ptr, name_key), fmt::format("a {} name (a non-empty string)", what));
  e.fixed = v.value(fixed_key, json::object());
  if (!e.fixed.is_object())
    throw InputError(file, json_pointer_append(ptr, fixed_key),
                     fmt::format("expected an object of {} values, got {}", what == "task" ? "option" : "parameter",
                                 got(e.fixed)));
  e.sweep = v.value("sweep", json::object());
  check_sweep_shape(e, file);
  return e;
}

template <typename Info>
std::string unknown_name_message(const std::string& what, const std::string& name, const std::vector<const Info*>& all) {
  std::vector<std::string> names;
  for (const auto* i : all) names.push_back(i->name);
  if (names.empty()) return fmt::format("unknown {} \"{}\"; this build registers no {}s", what, name, what);
  return fmt::format("unknown {} \"{}\"; expected one of {}", what, name, quoted_list(names));
}


// ---- method entries: a plain method or a stack of methods -----------------------------------------------------

// A method entry as written: one member ({"method": ...}) or several ({"stack": [...]}).
struct StackShape {
  std::vector<EntryShape> members;
  std::string pointer;   // of the entry
};

StackShape stack_shape(const json& v, const std::string& file, const std::string& ptr) {
  StackShape st;
  st.pointer = ptr;
  if (!v.is_object() || !v.contains("stack")) {
    st.members.push_back(entry_shape(v, file, ptr, "method", "params", "method"));
    return st;
  }
  check_object(v, file, ptr, "a stack entry", {"stack"});
  const std::string sp = json_pointer_append(ptr, "stack");
  const json& list = v.at("stack");
  if (!list.is_array() || list.empty())
    throw InputError(file, sp,
                     fmt::format("expected a non-empty list of method entries (one per role: weights, tokens, "
                                 "kv-cache), got {}", got(list)));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string mp = json_pointer_append(sp, i);
    if (list[i].is_object() && list[i].contains("stack"))
      throw InputError(file, mp, "expected a method entry ({\"method\": ..., \"params\": ..., \"sweep\": ...}); a "
                                 "stack member cannot itself be a stack");
    st.members.push_back(entry_shape(list[i], file, mp, "method", "params", "method"));
  }
  return st;
}

// Resolves the members' names, checks roles and the composition rules, and expands the members' sweeps into the
// cartesian product (the first member varies slowest). Members come out in role order.
std::vector<MethodVariant> expand_stack(const StackShape& st, const std::string& file) {
  std::vector<const MethodInfo*> infos;
  for (const auto& e : st.members) {
    const MethodInfo* info = MethodRegistry::find(e.name);
    if (!info) throw InputError(file, json_pointer_append(e.pointer, "method"), unknown_name_message("method", e.name, MethodRegistry::all()));
    infos.push_back(info);
  }
  // At most one method per role, then every pair under both members' rules.
  for (size_t j = 0; j < infos.size(); ++j)
    for (size_t i = 0; i < j; ++i) {
      for (Role r : infos[j]->roles)
        if (infos[i]->fills(r))
          throw InputError(file, st.members[j].pointer,
                           fmt::format("\"{}\" fills the {} role, which \"{}\" ({}) already fills; expected at most "
                                       "one method per role (weights, tokens, kv-cache)", infos[j]->name, role_name(r),
                                       infos[i]->name, st.members[i].pointer));
      std::string why = infos[i]->refuses(*infos[j]);
      if (why.empty()) why = infos[j]->refuses(*infos[i]);
      if (!why.empty())
        throw InputError(file, st.members[j].pointer,
                         fmt::format("\"{}\" cannot share a stack with \"{}\" ({}): {}; expected a stack the "
                                     "members' composition rules allow (`bench describe METHOD`)", infos[j]->name,
                                     infos[i]->name, st.members[i].pointer, why));
    }
  // Each member's own points, then their product.
  std::vector<std::vector<StackMember>> points_per_member;
  for (size_t k = 0; k < st.members.size(); ++k) {
    std::vector<StackMember> pts;
    for (auto& [params, chosen] : expand_entry(st.members[k], infos[k]->schema, file, "parameter", infos[k]->validate)) {
      StackMember m;
      m.info = infos[k];
      m.params = std::move(params);
      m.chosen = std::move(chosen);
      m.pointer = st.members[k].pointer;
      pts.push_back(std::move(m));
    }
    points_per_member.push_back(std::move(pts));
  }
  std::vector<std::vector<StackMember>> combos{{}};
  for (const auto& pts : points_per_member) {
    std::vector<std::vector<StackMember>> next;
    for (const auto& c : combos)
      for (const auto& p : pts) {
        next.push_back(c);
        next.back().push_back(p);
      }
    combos = std::move(next);
  }
  auto first_role = [](const StackMember& m) {
    for (size_t r = 0; r < std::size(kRoleOrder); ++r)
      if (m.info->fills(kRoleOrder[r])) return r;
    return std::size(kRoleOrder);
  };
  std::vector<MethodVariant> out;
  for (auto& c : combos) {
    std::stable_sort(c.begin(), c.end(), [&](const StackMember& a, const StackMember& b) { return first_role(a) < first_role(b); });
    out.push_back(MethodVariant{std::move(c), st.pointer});
  }
  return out;
}

}  // namespace

std::string ModelSpec::label() const {
  std::string s = name.empty() ? fs::path(path).filename().string() : name;
  return storage == rt::WeightStorage::F16 ? s + "[f16]" : s;
}
std::string TaskVariant::label() const { return label_of(info->name, chosen); }
std::string StackMember::label() const { return label_of(info->name, chosen); }

std::string MethodVariant::label() const {
  std::string s;
  for (const auto& m : members) s += (s.empty() ? "" : " + ") + m.label();
  return s;
}

std::string MethodVariant::names() const {
  std::string s;
  for (const auto& m : members) s += (s.empty() ? "" : "+") + m.info->name;
  return s;
}

std::string MethodVariant::canonical() const {
  json a = json::array();
  for (const auto& m : members) a.push_back(json{{"method", m.info->name}, {"params", m.params.values()}});
  return a.dump();
}

const StackMember* MethodVariant::member_for(Role r) const {
  for (const auto& m : members)
    if (m.info->fills(r)) return &m;
  return nullptr;
}

std::vector<const MethodUse*> MethodVariant::uses() const {
  std::vector<const MethodUse*> out;
  for (const auto& m : members) out.push_back(&m);
  return out;
}

bool MethodVariant::is_reference() const {
  if (members.size() != 1 || members[0].info->name != kReferenceMethod) return false;
  return members[0].params.values() == members[0].info->schema.canonicalize(json::object(), "", "");
}

Suite load_suite(const std::string& path) {
  std::string text = read_text_file(path);
  std::string dir = fs::path(path).parent_path().string();
  return parse_suite(text, path, dir.empty() ? "." : dir);
}

Suite parse_suite(const std::string& text, const std::string& file, const std::string& dir) {
  json j = parse_json_strict(text, file);
  Suite s;
  s.file = file;
  s.dir = dir;
  s.text = text;
  s.sha256 = sha256_text(text);

  // ---- structure (no registry needed) ----------------------------------------------------------------------------
  check_object(j, file, "", "a suite",
               {"name", "description", "model", "data_root", "threads", "seed", "device", "tasks", "methods",
                "latency", "metrics"});
  s.name = require_string(require(j, "name", file, "", "the suite name"), file, "/name",
                          "a suite name (letters, digits, '.', '_', '-')");
  if (!std::regex_match(s.name, std::regex("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")))
    throw InputError(file, "/name",
                     fmt::format("expected a suite name of at most 64 letters, digits, '.', '_', '-' (starting with a "
                                 "letter or digit), got {}", got(j["name"])));
  if (j.contains("description")) {
    if (!j["description"].is_string())
      throw InputError(file, "/description", fmt::format("expected a string, got {}", got(j["description"])));
    s.description = j["description"].get<std::string>();
  }

  const json& model = require(j, "model", file, "", kModelExpectation);
  if (model.is_array()) {
    if (model.empty()) throw InputError(file, "/model", "expected a non-empty list of models, got []");
    for (size_t i = 0; i < model.size(); ++i) s.models.push_back(parse_model(model[i], file, json_pointer_append("/model", i), dir));
  } else {
    s.models.push_back(parse_model(model, file, "/model", dir));
  }
  for (size_t i = 0; i < s.models.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (s.models[i].path == s.models[k].path && s.models[i].storage == s.models[k].storage)
        throw InputError(file, s.models[i].pointer,
                         fmt::format("duplicate model {} (also at {}); expected distinct models", s.models[i].label(),
                                     s.models[k].pointer));

  if (j.contains("data_root"))
    s.data_root = resolve_path(require_string(j["data_root"], file, "/data_root", "a directory path (a non-empty string)"), dir);
  if (j.contains("threads"))
    s.threads = (int)require_int(j["threads"], 1, kMaxThreads, file, "/threads", fmt::format("an integer in [1, {}]", kMaxThreads));
  if (j.contains("seed"))
    s.seed = (uint64_t)require_int(j["seed"], 0, (1LL << 53), file, "/seed", "an integer in [0, 2^53]");
  if (j.contains("device")) {
    // Whether the device is usable on this machine is checked when the run starts (not for --dry-run).
    if (j["device"] != "cpu" && j["device"] != "cuda")
      throw InputError(file, "/device", fmt::format("expected one of [\"cpu\", \"cuda\"], got {}", got(j["device"])));
    s.device = j["device"].get<std::string>();
  }

  std::vector<EntryShape> task_entries;
  std::vector<StackShape> method_entries;
  if (j.contains("tasks")) {
    const json& t = j["tasks"];
    if (!t.is_array() || (t.empty() && !j.contains("latency")))
      throw InputError(file, "/tasks", fmt::format("expected a non-empty list of task entries, got {}", got(t)));
    for (size_t i = 0; i < t.size(); ++i)
      task_entries.push_back(entry_shape(t[i], file, json_pointer_append("/tasks", i), "task", "options", "task"));
  }
  if (j.contains("latency")) {
    const json& l = j["latency"];
    if (!l.is_object())
      throw InputError(file, "/latency",
                       fmt::format("expected the options of the latency task (a JSON object), got {}", got(l)));
    // Sugar for {"task": "latency", "options": {...}}: the task's own schema validates the keys.
    task_entries.push_back(EntryShape{"latency", l, json::object(), "/latency", ""});
  }
  if (task_entries.empty()) throw InputError(file, "", "missing key \"tasks\"; expected a non-empty list of task entries (or a \"latency\" section)");

  const json& methods = require(j, "methods", file, "", "a non-empty list of method entries");
  if (!methods.is_array() || methods.empty())
    throw InputError(file, "/methods", fmt::format("expected a non-empty list of method entries, got {}", got(methods)));
  for (size_t i = 0; i < methods.size(); ++i)
    method_entries.push_back(stack_shape(methods[i], file, json_pointer_append("/methods", i)));

  std::vector<std::string> metrics;
  if (j.contains("metrics")) {
    const json& m = j["metrics"];
    if (!m.is_array() || m.empty())
      throw InputError(file, "/metrics", fmt::format("expected a non-empty list of metric names, got {}", got(m)));
    for (size_t i = 0; i < m.size(); ++i) {
      std::string p = json_pointer_append("/metrics", i);
      std::string name = require_string(m[i], file, p, "a metric name (a non-empty string)");
      if (std::find(metrics.begin(), metrics.end(), name) != metrics.end())
        throw InputError(file, p, fmt::format("duplicate metric \"{}\"; expected each metric once", name));
      metrics.push_back(name);
    }
  }

  // ---- registry names, schemas, sweeps ----------------------------------------------------------------------------
  std::map<std::string, std::string> seen;  // variant identity -> pointer of its first occurrence
  auto check_duplicate = [&](const std::string& key, const std::string& pointer, const std::string& what) {
    auto [it, inserted] = seen.emplace(key, pointer);
    if (!inserted)
      throw InputError(file, pointer,
                       fmt::format("duplicate configuration: {} is already given by {}; expected distinct entries", what,
                                   it->second));
  };
  // Methods before tasks: their errors then do not depend on which tasks this build registers.
  for (const auto& e : method_entries) {
    for (MethodVariant& v : expand_stack(e, file)) {
      const StackMember& first = v.members.front();
      check_duplicate("methods " + v.canonical(), e.pointer,
                      v.members.size() == 1
                          ? fmt::format("method \"{}\" with parameters {}", first.info->name, first.params.canonical_text())
                          : fmt::format("stack {}", v.canonical()));
      s.methods.push_back(std::move(v));
    }
  }
  for (const auto& e : task_entries) {
    const TaskInfo* info = TaskRegistry::find(e.name);
    if (!info) {
      std::string p = e.pointer == "/latency" ? e.pointer : json_pointer_append(e.pointer, "task");
      std::string msg = unknown_name_message("task", e.name, TaskRegistry::all());
      if (e.pointer == "/latency") msg += " (the \"latency\" section needs the latency task)";
      throw InputError(file, p, msg);
    }
    for (auto& [params, chosen] : expand_entry(e, info->options, file, "option", info->validate)) {
      check_duplicate("task " + info->name + params.canonical_text(), e.pointer,
                      fmt::format("task \"{}\" with options {}", info->name, params.canonical_text()));
      s.tasks.push_back(TaskVariant{info, std::move(params), std::move(chosen), e.pointer});
    }
  }
  // ---- metrics: each must be reported by one of the suite's tasks ------------------------------------------------
  std::vector<std::string> reported;
  for (const auto& t : s.tasks)
    for (const MetricSpec& m : t.info->metrics)
      if (std::find(reported.begin(), reported.end(), m.name) == reported.end()) reported.push_back(m.name);
  for (size_t i = 0; i < metrics.size(); ++i)
    if (std::find(reported.begin(), reported.end(), metrics[i]) == reported.end())
      throw InputError(file, json_pointer_append("/metrics", i),
                       fmt::format("unknown metric \"{}\"; expected one reported by the suite's tasks: {}", metrics[i],
                                   quoted_list(reported)));
  s.metrics = std::move(metrics);
  return s;
}

}  // namespace bp
