#include "harness/cli/run_view.h"

#include <fmt/format.h>

#include <map>

namespace bp::cli {

namespace {

std::string text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string labels_text(const json& labels) {
  if (!labels.is_object() || labels.empty()) return "";
  std::string s;
  for (auto it = labels.begin(); it != labels.end(); ++it) s += (s.empty() ? "" : ",") + it.key() + "=" + text(it.value());
  return s;
}

std::string plan_number(const json& c) { return std::to_string(c["plan_index"].get<long long>() + 1); }

}  // namespace

std::string format_value(double v) { return fmt::format("{:.6g}", v); }

std::string run_header_text(const json& r) {
  std::string dirty = r["git_dirty"].is_null() ? "" : (r["git_dirty"].get<long long>() ? " (dirty)" : "");
  std::string gpu = r["gpu_model"].is_null() ? "none"
                                             : fmt::format("{} (driver {}, CUDA {})", text(r["gpu_model"]),
                                                           text(r["gpu_driver"]), text(r["cuda_version"]));
  return fmt::format(
      "run {}: suite {} ({}), status {}\n"
      "started {}, ended {}\n"
      "commit {}{}, bench {}, {} {}, build {}\n"
      "host {}: {} ({} cores), {}, GPU {}\n"
      "threads {}, seed {}, device {}, data root {}\n",
      text(r["id"]), text(r["suite_name"]), text(r["suite_path"]), text(r["status"]), text(r["started_at"]),
      r["ended_at"].is_null() ? "-" : text(r["ended_at"]), text(r["git_commit"]), dirty, text(r["bench_version"]),
      text(r["compiler"]), text(r["build_type"]), text(r["build_id"]).substr(0, 12), text(r["host"]), text(r["cpu_model"]),
      text(r["cpu_cores"]), text(r["os"]), gpu, text(r["threads"]), text(r["seed"]), text(r["device"]),
      text(r["data_root"]));
}

TextTable run_metadata_table(const json& r) {
  TextTable t;
  t.headers = {"field", "value"};
  for (const char* k : {"id", "suite_name", "suite_path", "suite_sha256", "status", "started_at", "ended_at",
                        "git_commit", "git_dirty", "bench_version", "compiler", "build_type", "build_flags", "build_id",
                        "cpu_model", "cpu_cores", "gpu_model", "gpu_driver", "cuda_version", "os", "host", "threads",
                        "seed", "device", "data_root", "command_line"})
    t.rows.push_back({k, text(r[k])});
  return t;
}

TextTable results_table(const json& doc) {
  TextTable t;
  t.headers = {"#", "task", "method", "status", "metric", "labels", "value", "unit", "n", "min..max", "cv"};
  for (const auto& c : doc["configurations"]) {
    // The label ("task(opt=v) / method(param=v)") names what the suite chose, in short.
    std::string task = c["label"].get<std::string>(), method;
    if (auto slash = task.find(" / "); slash != std::string::npos) {
      method = task.substr(slash + 3);
      task = task.substr(0, slash);
    }
    const std::string status = c["status"].get<std::string>();
    if (c["results"].empty()) {
      t.rows.push_back({plan_number(c), task, method, status, "", "", "", "", "", "", ""});
      continue;
    }
    // (metric, labels) in first-reported order; summaries where there are repetitions.
    std::vector<std::pair<std::string, std::string>> keys;
    std::map<std::pair<std::string, std::string>, std::vector<const json*>> values;
    for (const auto& r : c["results"]) {
      auto key = std::make_pair(r["metric"].get<std::string>(), r["labels"].dump());
      if (!values.count(key)) keys.push_back(key);
      values[key].push_back(&r);
    }
    std::map<std::pair<std::string, std::string>, const json*> summaries;
    for (const auto& s : c["summaries"]) summaries[{s["metric"].get<std::string>(), s["labels"].dump()}] = &s;
    for (const auto& key : keys) {
      const json& first = *values[key].front();
      std::vector<std::string> row = {plan_number(c), task, method, status, key.first, labels_text(first["labels"])};
      if (auto it = summaries.find(key); it != summaries.end()) {
        const json& s = *it->second;
        row.push_back(format_value(s["median"].get<double>()));
        row.push_back(text(s["unit"]));
        row.push_back(text(s["n"]));
        row.push_back(format_value(s["min"].get<double>()) + ".." + format_value(s["max"].get<double>()));
        row.push_back(s["cv"].is_null() ? "" : fmt::format("{:.1f}%", 100 * s["cv"].get<double>()));
      } else {
        row.push_back(format_value(first["value"].get<double>()));
        row.push_back(text(first["unit"]));
        row.push_back("1");
        row.push_back("");
        row.push_back("");
      }
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

TextTable results_rows(const json& doc) {
  TextTable t;
  t.headers = {"run_id", "configuration_id", "plan_index", "label", "task", "task_options", "method", "params",
               "model", "model_sha256", "status", "error", "metric", "labels", "repetition", "value", "unit",
               "protocol", "protocol_version", "identity"};
  const std::string run_id = text(doc["run"]["id"]);
  for (const auto& c : doc["configurations"]) {
    std::vector<std::string> base = {run_id, text(c["id"]), text(c["plan_index"]), text(c["label"]), text(c["task"]),
                                     c["task_options"].dump(), text(c["method"]), c["params"].dump(),
                                     c["model_name"].is_null() ? text(c["model_path"]) : text(c["model_name"]),
                                     text(c["model_sha256"]), text(c["status"]), text(c["error"])};
    if (c["results"].empty()) {
      auto row = base;
      row.insert(row.end(), {"", "", "", "", "", text(c["protocol"]), text(c["protocol_version"]), text(c["identity"])});
      t.rows.push_back(std::move(row));
      continue;
    }
    for (const auto& r : c["results"]) {
      auto row = base;
      row.insert(row.end(), {text(r["metric"]), r["labels"].dump(), text(r["repetition"]),
                             fmt::format("{:.17g}", r["value"].get<double>()), text(r["unit"]), text(r["protocol"]),
                             text(r["protocol_version"]), text(c["identity"])});
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

std::string failures_text(const json& doc) {
  std::string s;
  for (const auto& c : doc["configurations"])
    if (c["status"] == "failed")
      s += fmt::format("#{} {}: {}\n", plan_number(c), text(c["label"]), text(c["error"]));
  return s;
}

}  // namespace bp::cli
