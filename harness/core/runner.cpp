#include "harness/core/runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "harness/core/data_files.h"
#include "harness/common/error.h"
#include "harness/core/failure.h"
#include "harness/core/file_hash.h"
#include "harness/core/identity.h"
#include "harness/core/json_file.h"
#include "harness/core/model_registry.h"
#include "harness/core/plan.h"
#include "harness/core/progress.h"
#include "harness/core/provenance.h"
#include "harness/core/results.h"
#include "harness/core/session_factory.h"
#include "harness/core/shard_run.h"
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
      base_error_.reset();
      try {
        base_ = backend_.load(m, threads_);
      } catch (const std::exception& e) {
        base_error_.emplace(classify_failure(e), fmt::format("loading model {} failed: {}", m.path, e.what()));
      }
    }
    if (base_error_) throw *base_error_;
    return base_.get();
  }

  rt::Model* for_configuration(const Configuration& c, uint64_t seed) {
    rt::Model* b = base(*c.model);
    if (!c.transforms_weights()) return b;
    std::string key = model_instance_key(c);
    if (key != inst_key_) {
      inst_.reset();
      inst_key_ = key;
      inst_error_.reset();
      const StackMember& w = *c.weight_member();
      try {
        inst_ = backend_.load(*c.model, threads_);
        if (!inst_) throw std::runtime_error("the model backend returned no model");
        if (!w.info->make_weight_transform)
          throw std::logic_error(fmt::format("method \"{}\" fills the weights role without a weight transform", w.info->name));
        MethodContext mc;
        mc.geometry = inst_->kv_geometry(threads_);
        mc.config = &inst_->config();
        mc.seed = seed;
        std::unique_ptr<rt::WeightTransform> t = w.info->make_weight_transform(mc, w.params);
        std::vector<int32_t> calib;
        if (t->wants_calibration()) calib = calibration_tokens(*inst_, t->calibration_tokens());
        inst_->apply_weight_transform(*t, calib, threads_);
      } catch (const std::exception& e) {
        inst_.reset();
        inst_error_.emplace(classify_failure(e), fmt::format("preparing the weights of {} failed: {}", w.label(), e.what()));
      }
    }
    if (inst_error_) throw *inst_error_;
    return inst_.get();
  }

 private:
  std::vector<int32_t> calibration_tokens(const rt::Model& m, int64_t count) const {
    std::string text = read_text_file((fs::path(root_.path) / kCalibrationData.relative_path).string());
    std::vector<int32_t> ids = m.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
    if (count > 0 && ids.size() > (size_t)count) ids.resize((size_t)count);
    return ids;
  }

  const ModelBackend& backend_;
  int threads_;
  const DataRoot& root_;
  std::string base_key_, inst_key_;
  std::optional<RememberedFailure> base_error_, inst_error_;
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
  const std::vector<const MethodUse*> stack = c.method->uses();
  ctx.new_session = [&] { return sessions.make(need(model), stack); };
  ctx.new_reference_session = [&] { return sessions.make_reference(need(base)); };
  ctx.is_reference = c.method->is_reference();
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
  std::map<const ModelSpec*, std::string> model_sha;
  for (const auto& m : suite.models) {
    bool used = std::any_of(order.begin(), order.end(), [&](const Configuration& c) { return c.model == &m; });
    if (!used) continue;
    if (!fs::exists(m.path))
      throw InputError(suite.file, m.pointer,
                       fmt::format("model not found at {}; expected {}", m.path,
                                   m.name.empty() ? "an existing .gguf file or model directory"
                                                  : "the fetched file (run `bench fetch-model " + m.name + "`)"));
    std::string sha = backend.sha256(m);
    if (const ModelEntry* e = m.name.empty() ? nullptr : find_model_entry(m.name); e && sha != e->sha256)
      throw InputError(suite.file, m.pointer,
                       fmt::format("model file {} has sha256 {}; expected {} (fetch it again: delete the file and run "
                                   "`bench fetch-model {}`)", m.path, sha, e->sha256, m.name));
    model_sha[&m] = sha;
  }
  return model_sha;
}

// The stored row of a configuration, with its identity. Verifies the task's data files on the way.
NewConfiguration make_row(const Configuration& c, const Suite& suite, int threads, const std::string& model_sha,
                          const std::string& build_id, DataVerifier& verifier) {
  const TaskInfo& ti = *c.task->info;
  std::vector<DataFile> files = ti.data_files ? ti.data_files(c.task->options) : std::vector<DataFile>{};
  if (c.transforms_weights()) files.push_back(kCalibrationData);
  for (const auto& f : files) verifier.verify(f, suite.file, c.task->pointer, fmt::format("task \"{}\"", ti.name));

  NewConfiguration r;
  r.plan_index = (int64_t)c.plan_index;
  r.label = c.label;
  // A stack of one keeps its parameters as they are; a longer stack stores them per member, by name (a stack holds
  // each method once: one per role).
  std::vector<Role> roles;
  json params = json::object();
  for (const auto& m : c.method->members) {
    roles.insert(roles.end(), m.info->roles.begin(), m.info->roles.end());
    params[m.info->name] = m.params.values();
  }
  r.method = c.method->names();
  r.method_kind = roles_text(roles);
  r.params = c.method->members.size() == 1 ? c.method->members[0].params.canonical_text() : params.dump();
  r.stack = c.method->canonical();
  for (const auto& m : c.method->members)
    r.members.push_back(NewMember{roles_text(m.info->roles), m.info->name, m.params.canonical_text()});
  r.model_name = c.model->name;
  r.model_path = c.model->path;
  r.model_sha256 = model_sha;
  r.model_storage = c.model->storage_name();
  r.task = ti.name;
  r.task_options = c.task->options.canonical_text();
  r.dataset_files = dataset_files_json(files);
  r.protocol = ti.protocol;
  r.protocol_version = ti.protocol_version;
  json metrics = json::array();
  for (const MetricSpec& m : ti.metrics)
    if (suite.metrics.empty() || std::find(suite.metrics.begin(), suite.metrics.end(), m.name) != suite.metrics.end())
      metrics.push_back(m.name);
  r.protocol_params = json{{"options", c.task->options.values()}, {"seed", suite.seed}, {"threads", threads},
                           {"device", suite.device}, {"metrics", metrics}}.dump();
  r.build_id = build_id;
  r.comparison_key = comparison_key(IdentityFields{r.model_sha256, r.model_storage, r.stack, r.task, r.protocol,
                                                   r.protocol_version, r.protocol_params, r.dataset_files});
  r.identity = identity_hash(r.comparison_key, r.build_id);
  return r;
}

// --resume: the latest run of this suite text. Sets db_id of the prepared configurations it has not completed and
// returns the run id.
int64_t attach_to_previous_run(Store& store, const Suite& suite, const RunOptions& opts, const std::string& build_id,
                               std::vector<Prepared>& prepared) {
  auto prev = store.latest_run_of_suite(suite.sha256);
  if (!prev)
    throw InputError(opts.db_path, "", fmt::format("--resume: no run of this suite (sha256 {}) in the database; "
                                                   "expected an earlier `bench run` of the same suite file", suite.sha256));
  if (store.run_is_live(prev->id))
    throw InputError(opts.db_path, "", fmt::format("--resume: run {} is still running in another process", prev->id));
  if (prev->build_id != build_id)
    throw InputError(opts.db_path, "",
                     fmt::format("--resume: run {} was made by another build ({}), this is {}; its results cannot be "
                                 "completed by a different build: start a new run", prev->id, prev->build_id.substr(0, 12),
                                 build_id.substr(0, 12)));
  std::map<std::string, Prepared*> by_identity;
  for (auto& p : prepared) by_identity[p.row.identity] = &p;
  for (const auto& sc : store.configurations(prev->id)) {
    if (sc.status == "complete") continue;
    auto it = by_identity.find(sc.identity);
    if (it != by_identity.end()) {
      it->second->db_id = sc.id;
    } else if (opts.filter.empty()) {  // with --filter, the configurations it leaves out are simply not run
      throw InputError(opts.db_path, "",
                       fmt::format("--resume: configuration {} of run {} ({}) is not in this plan with the same "
                                   "identity: the model or data files changed since the run started; start a new run",
                                   sc.plan_index + 1, prev->id, sc.label));
    }
  }
  store.reopen_run(prev->id);
  return prev->id;
}

}  // namespace

RunOutcome run_suite(const std::string& suite_path, const RunOptions& opts, const ModelBackend& backend) {
  Suite suite = load_suite(suite_path);
  const int threads = opts.threads.value_or(suite.threads);
  if (threads < 1 || threads > kMaxThreads)
    throw InputError("--threads", "", fmt::format("expected an integer in [1, {}], got {}", kMaxThreads, threads));

  std::vector<Configuration> plan = expand_plan(suite);
  const size_t total = plan.size();
  if (!opts.filter.empty()) {
    plan = filter_plan(plan, opts.filter);
    if (plan.empty())
      throw InputError("--filter", "", fmt::format("no configuration of the suite's {} matches \"{}\"; expected a regular "
                                                   "expression matching labels as `bench run --dry-run` prints them",
                                                   total, opts.filter));
  }
  std::vector<Configuration> order = order_for_loading(plan);
  // ---- --shard i/N: keep part i of the (filtered) plan ------------------------------------------------------------
  json sharded_plan;
  std::string cost_source;
  if (opts.shard) {
    sharded_plan = sharded_plan_json(order);
    std::vector<Configuration> mine;
    if (auto part = opts.resume ? resumed_shard_part(opts.db_path, suite.sha256, *opts.shard, sharded_plan) : std::nullopt) {
      for (const auto& c : order)
        if (part->count(c.plan_index)) mine.push_back(c);
    } else {
      std::map<size_t, double> measured;
      if (opts.costs_from) {
        // Wall times are matched by comparison key, which needs the model's sha256 and the data files' hashes.
        std::map<std::string, double> walls = read_measured_costs(*opts.costs_from, "--costs-from");
        DataRoot root = resolve_data_root(opts.data_root, suite.data_root);
        DataVerifier verifier(root);
        std::map<const ModelSpec*, std::string> sha = hash_models(suite, order, backend);
        for (const auto& c : order)
          if (auto it = walls.find(make_row(c, suite, threads, sha.at(c.model), "", verifier).comparison_key);
              it != walls.end())
            measured[c.plan_index] = it->second;
      }
      ShardCosts costs = make_shard_costs(order, measured, opts.costs_from.value_or(""));
      std::vector<ShardPart> parts = partition_plan(order, opts.shard->count, costs.cost);
      if (opts.dry_run) print_shard_parts(opts.plan_out, *opts.shard, parts, costs, order.size());
      cost_source = costs.source;
      for (size_t i : parts[opts.shard->index - 1].members) mine.push_back(order[i]);
    }
    order = std::move(mine);
  }
  RunOutcome outcome;
  outcome.planned = order.size();
  if (opts.dry_run) {
    print_plan(opts.plan_out, suite, order, total, threads);
    return outcome;
  }

  // ---- verify every input before anything is written ------------------------------------------------------------
  DataRoot root = resolve_data_root(opts.data_root, suite.data_root);
  DataVerifier verifier(root);
  std::map<const ModelSpec*, std::string> model_sha = hash_models(suite, order, backend);
  // Fails (exit code 2) when the suite's device cannot be used here.
  SessionFactory device_check(rt::parse_device(suite.device), threads, suite.seed, suite.file, "/device");
#if defined(BENCH_CUDA_EMULATED)
  // A test build (kernels/cuda/emulation): its "cuda" runs on the CPU, so say so before anything is stored.
  if (suite.device == "cuda")
    std::fprintf(stderr, "warning: this build emulates the CUDA backend on the CPU (BENCH_CUDA_EMULATION, for tests): "
                         "results stored as device cuda are not GPU results\n");
#endif
  Provenance prov = collect_provenance();
  std::vector<Prepared> prepared;
  for (const auto& c : order)
    prepared.push_back(Prepared{c, make_row(c, suite, threads, model_sha.at(c.model), prov.build_id, verifier), 0});

  // ---- the run in the database ---------------------------------------------------------------------------------
  if (auto parent = fs::path(opts.db_path).parent_path(); !parent.empty()) fs::create_directories(parent);
  Store store(opts.db_path);
  if (opts.resume) {
    // A shard resumes its own part only: checked first, as a changed partition would look like changed inputs.
    if (auto prev = store.latest_run_of_suite(suite.sha256))
      check_resumed_shard(store, prev->id, opts.shard, sharded_plan, opts.db_path);
    outcome.run_id = attach_to_previous_run(store, suite, opts, prov.build_id, prepared);
  } else {
    std::vector<NewConfiguration> rows;
    for (const auto& p : prepared) rows.push_back(p.row);
    outcome.run_id = store.begin_run(NewRun{suite.name, suite.file, suite.sha256, suite.text, prov, threads, suite.seed,
                                            suite.device, root.path, opts.command_line},
                                     rows);
    if (opts.shard) record_shard(store, outcome.run_id, *opts.shard, sharded_plan, cost_source, prov);
    std::map<std::string, int64_t> ids;
    for (const auto& sc : store.configurations(outcome.run_id)) ids[sc.identity] = sc.id;
    for (auto& p : prepared) p.db_id = ids.at(p.row.identity);
  }
  std::vector<const Prepared*> todo;
  for (const auto& p : prepared)
    if (p.db_id) todo.push_back(&p);
  outcome.planned = todo.size();
  if (opts.log) {
    if (opts.resume)
      std::fprintf(opts.log, "resuming run %lld: %zu configuration(s) without a complete result\n",
                   (long long)outcome.run_id, todo.size());
    else
      std::fprintf(opts.log, "run %lld: suite %s, %zu configuration(s), database %s\n", (long long)outcome.run_id,
                   suite.name.c_str(), todo.size(), opts.db_path.c_str());
  }

  // ---- execution: each configuration stored as soon as it is done ---------------------------------------------
  Progress progress(opts.log, todo.size());
  Models models(backend, threads, root);
  ReferenceCache refs;
  for (size_t i = 0; i < todo.size(); ++i) {
    const Prepared& p = *todo[i];
    progress.start(i + 1, p.c.label);
    store.start_configuration(p.db_id);
    auto t0 = std::chrono::steady_clock::now();
    std::string error;
    FailureKind kind = FailureKind::Runtime;
    ConfigurationResults results;
    try {
      rt::Model* base = models.base(*p.c.model);
      rt::Model* model = models.for_configuration(p.c, suite.seed);
      results = run_configuration(p.c, model, base, suite, threads, root, refs, progress);
    } catch (const std::exception& e) {
      error = *e.what() ? e.what() : "unknown error";
      kind = classify_failure(e);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (error.empty()) {
      store.complete_configuration(p.db_id, results, wall);
    } else {
      store.fail_configuration(p.db_id, error, failure_kind_name(kind), wall);
      ++outcome.failed;
    }
    progress.finish(i + 1, error.empty(), wall, error);
  }
  std::string status = store.finish_run(outcome.run_id);
  if (opts.log)
    std::fprintf(opts.log, "run %lld %s: %zu of %zu configuration(s) succeeded\n", (long long)outcome.run_id,
                 status.c_str(), todo.size() - outcome.failed, todo.size());
  outcome.exit_code = outcome.failed ? 1 : 0;
  return outcome;
}

}  // namespace bp
