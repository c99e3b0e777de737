#include "harness/core/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "harness/core/data_files.h"
#include "harness/core/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/identity.h"
#include "harness/core/json_file.h"
#include "harness/core/model_registry.h"
#include "harness/core/plan.h"
#include "harness/core/progress.h"
#include "harness/core/provenance.h"
#include "harness/core/results.h"
#include "harness/core/session_factory.h"
#include "harness/core/store.h"
#include "harness/runtime/io/model_file.h"

namespace fs = std::filesystem;

namespace bp {

ModelBackend runtime_model_backend() {
  ModelBackend b;
  b.sha256 = [](const ModelSpec& m) {
    // A GGUF file's identity is the sha256 of the file; a Hugging Face directory's is the runtime's (shards in index
    // order), which needs the checkpoint opened.
    if (fs::is_regular_file(m.path)) return sha256_file(m.path);
    return rt::ModelFile::open(m.path)->info().sha256;
  };
  b.load = [](const ModelSpec& m, int threads) {
    rt::LoadOptions o;
    o.storage = m.storage;
    o.threads = threads;
    return rt::Model::load(m.path, o);
  };
  return b;
}

namespace {

struct Prepared {
  Configuration c;
  NewConfiguration row;
  int64_t db_id = 0;
};

// "fp16" for the reference (fp16 with its default parameters), else name + canonical parameters.
std::string method_key(const MethodVariant& m) {
  if (m.info->name == kReferenceMethod && m.params.values() == m.info->schema.canonicalize(json::object(), "", ""))
    return kReferenceMethod;
  return m.params.values().empty() ? m.info->name : m.info->name + m.params.canonical_text();
}

void print_plan(std::FILE* out, const Suite& s, const std::vector<Configuration>& order, size_t total, int threads) {
  std::fprintf(out, "suite %s (%s): %zu of %zu configurations, threads %d, seed %llu, device %s\n", s.name.c_str(),
               s.file.c_str(), order.size(), total, threads, (unsigned long long)s.seed, s.device.c_str());
  for (const auto& m : s.models)
    std::fprintf(out, "model %s: %s%s\n", m.label().c_str(), m.path.c_str(), fs::exists(m.path) ? "" : "  (missing)");
  std::fprintf(out, "order  plan  configuration\n");
  for (size_t i = 0; i < order.size(); ++i)
    std::fprintf(out, "%5zu  %4zu  %s\n", i + 1, order[i].plan_index + 1, order[i].label.c_str());
}

// The models of the configuration being run: the unmodified model (kept while its configurations run: reference
// sessions need it) and at most one weight-transformed copy. A load failure is remembered, so the configurations
// that need the model fail with its message without reloading each time.
class Models {
 public:
  Models(const ModelBackend& backend, int threads, const DataRoot& root) : backend_(backend), threads_(threads), root_(root) {}

  rt::Model* base(const ModelSpec& m) {
    std::string key = fmt::format("{}|{}", m.path, m.storage_name());
    if (key != base_key_) {
      inst_.reset();
      inst_key_.clear();
      base_.reset();
      base_key_ = key;
      base_error_.clear();
      try {
        base_ = backend_.load(m, threads_);
      } catch (const std::exception& e) {
        base_error_ = fmt::format("loading model {} failed: {}", m.path, e.what());
      }
    }
    if (!base_error_.empty()) throw std::runtime_error(base_error_);
    return base_.get();
  }

  rt::Model* for_configuration(const Configuration& c, uint64_t seed) {
    rt::Model* b = base(*c.model);
    if (!c.transforms_weights()) return b;
    std::string key = model_instance_key(c);
    if (key != inst_key_) {
      inst_.reset();
      inst_key_ = key;
      inst_error_.clear();
      try {
        inst_ = backend_.load(*c.model, threads_);
        if (!inst_) throw std::runtime_error("the model backend returned no model");
        const MethodInfo& mi = *c.method->info;
        MethodContext mc{inst_->kv_geometry(threads_), &inst_->config(), seed};
        std::unique_ptr<rt::WeightTransform> t = mi.make_weight_transform(mc, c.method->params);
        std::vector<int32_t> calib;
        if (t->wants_calibration()) calib = calibration_tokens(*inst_);
        inst_->apply_weight_transform(*t, calib, threads_);
      } catch (const std::exception& e) {
        inst_.reset();
        inst_error_ = fmt::format("preparing the weights of {} failed: {}", c.method->label(), e.what());
      }
    }
    if (!inst_error_.empty()) throw std::runtime_error(inst_error_);
    return inst_.get();
  }

 private:
  std::vector<int32_t> calibration_tokens(const rt::Model& m) const {
    std::string text = read_text_file((fs::path(root_.path) / kCalibrationFile).string());
    std::vector<int32_t> ids = m.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (ids.size() > (size_t)kCalibrationTokens) ids.resize(kCalibrationTokens);
    return ids;
  }

  const ModelBackend& backend_;
  int threads_;
  const DataRoot& root_;
  std::string base_key_, inst_key_, base_error_, inst_error_;
  std::unique_ptr<rt::Model> base_, inst_;
};

// Runs one configuration's task, collecting its results. Throws on any failure.
ConfigurationResults run_configuration(const Configuration& c, rt::Model* model, rt::Model* base, const Suite& suite,
                                       int threads, const DataRoot& root, ReferenceCache& refs, Progress& progress) {
  const TaskInfo& ti = *c.task->info;
  if (!ti.make) throw std::runtime_error(fmt::format("task \"{}\" registers no factory", ti.name));
  CollectingSink sink(ti, suite.metrics);
  // One factory per configuration: the token selectors it keeps for its sessions go when the task is done.
  SessionFactory sessions(rt::parse_device(suite.device), threads, suite.seed, suite.file, "/device");
  auto need = [](rt::Model* m) -> const rt::Model& {
    if (!m) throw std::runtime_error("no model is loaded for this configuration");
    return *m;
  };

  TaskContext ctx;
  ctx.model = model;
  ctx.options = c.task->options;
  ctx.data_root = root.path;
  ctx.threads = threads;
  ctx.seed = suite.seed;
  ctx.new_session = [&] { return sessions.make(need(model), *c.method->info, c.method->params); };
  ctx.new_reference_session = [&] { return sessions.make_reference(need(base)); };
  ctx.method_key = method_key(*c.method);
  ctx.reference_cache = &refs;
  ctx.sink = &sink;
  ctx.progress = [&](double f, const std::string& what) { progress.task_progress(f, what); };

  std::unique_ptr<Task> task = ti.make(c.task->options);
  if (!task) throw std::runtime_error(fmt::format("task \"{}\" factory returned nothing", ti.name));
  task->run(ctx);
  return sink.results();
}

// sha256 of every model the plan uses, checked against the registry's for registry models.
std::map<const ModelSpec*, std::string> hash_models(const Suite& suite, const std::vector<Configuration>& order,
                                                    const ModelBackend& backend) {
  std::map<const ModelSpec*, std::string> model_sha = hash_models(suite, order, backend);
  // Fails (exit code 2) when the suite's device cannot be used here.
  SessionFactory device_check(rt::parse_device(suite.device), threads, suite.seed, suite.file, "/device");
  Provenance prov = collect_provenance();
  std::vector<Prepared> prepared;
  for (const auto& c : order)
    prepared.push_back(Prepared{c, make_row(c, suite, threads, model_sha.at(c.model), prov.build_id, verifier), 0});

  // ---- the run in the database ---------------------------------------------------------------------------------
  if (auto parent = fs::path(opts.db_path).parent_path(); !parent.empty()) fs::create_directories(parent);
  Store store(opts.db_path);
  std::vector<Prepared*> todo;
  if (opts.resume) {
    outcome.run_id = attach_to_previous_run(store, suite, opts, prov.build_id, prepared);
    for (auto& p : prepared)
      if (p.db_id) todo.push_back(&p);
    if (opts.log)
      std::fprintf(opts.log, "resuming run %lld: %zu configuration(s) without a complete result\n",
                   (long long)outcome.run_id, todo.size());
  } else {
    NewRun run{suite.name, suite.file, suite.sha256, suite.text, prov, threads, suite.seed, suite.device, root.path,
               opts.command_line};
    std::vector<NewConfiguration> rows;
    for (const auto& p : prepared) rows.push_back(p.row);
    outcome.run_id = store.begin_run(run, rows);
    std::map<std::string, int64_t> ids;
    for (const auto& sc : store.configurations(outcome.run_id)) ids[sc.identity] = sc.id;
    for (auto& p : prepared) {
      p.db_id = ids.at(p.row.identity);
      todo.push_back(&p);
    }
    if (opts.log)
      std::fprintf(opts.log, "run %lld: suite %s, %zu configuration(s), database %s\n", (long long)outcome.run_id,
                   suite.name.c_str(), todo.size(), opts.db_path.c_str());
  }
  outcome.planned = todo.size();

  // ---- execution -------------------------------------------------------------------------------------------------
  Progress progress(opts.log, todo.size());
  Models models(backend, threads, root);
  ReferenceCache refs;
  for (size_t i = 0; i < todo.size(); ++i) {
    const Prepared& p = *todo[i];
    progress.start(i + 1, p.c.label);
    store.start_configuration(p.db_id);
    auto t0 = std::chrono::steady_clock::now();
    auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    std::string error;
    ConfigurationResults results;
    try {
      rt::Model* base = models.base(*p.c.model);
      rt::Model* model = models.for_configuration(p.c, suite.seed);
      results = run_configuration(p.c, model, base, suite, threads, root, refs, progress);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
    double w = wall();
    if (error.empty()) {
      store.complete_configuration(p.db_id, results, w);
    } else {
      store.fail_configuration(p.db_id, error, w);
      ++outcome.failed;
    }
    progress.finish(i + 1, error.empty(), w, error);
  }
  std::string status = store.finish_run(outcome.run_id);
  if (opts.log)
    std::fprintf(opts.log, "run %lld %s: %zu of %zu configuration(s) succeeded\n", (long long)outcome.run_id,
                 status.c_str(), todo.size() - outcome.failed, todo.size());
  outcome.exit_code = outcome.failed ? 1 : 0;
  return outcome;
}

}  // namespace bp
