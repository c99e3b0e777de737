#pragma once
// Running a registered task outside the runner, as the runner does: canonical options from the task's schema,
// sessions of a registered KV method on the default model, the fp16 reference, a per-test reference cache and the
// core's CollectingSink (which enforces the task's declared metrics and units).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "harness/core/registry.h"
#include "harness/core/results.h"
#include "harness/core/task.h"
#include "harness/runtime/dense_kv_cache.h"
#include "harness/runtime/model.h"
#include "tests/common/test_env.h"

namespace bp::test {

// The default model, loaded once per test process (F32 weights, 2 threads).
inline rt::Model& shared_model() {
  static std::unique_ptr<rt::Model> m = rt::Model::load(default_model_path(), rt::LoadOptions{rt::WeightStorage::F32, 2});
  return *m;
}

inline std::unique_ptr<rt::Session> method_session(rt::Model& m, const std::string& method, const json& params,
                                                   int threads) {
  const MethodInfo* mi = MethodRegistry::find(method);
  if (!mi || !mi->make_kv_cache) throw std::runtime_error("no KV method " + method);
  MethodContext mc;
  mc.geometry = m.kv_geometry(threads);
  mc.config = &m.config();
  Params p(mi->schema.canonicalize(params, "", ""));
  return std::make_unique<rt::Session>(m, mi->make_kv_cache(mc, p), threads);
}

inline std::unique_ptr<rt::Session> f32_session(rt::Model& m, int threads) {
  return std::make_unique<rt::Session>(m, std::make_unique<rt::DenseKvCache>(m.kv_geometry(threads), rt::DenseKvType::F32),
                                       threads);
}

struct TaskRun {
  const TaskInfo* info = nullptr;
  ConfigurationResults results;

  // The value of metric `name` whose labels contain every key of `labels` (and rep), or NaN.
  double metric(const std::string& name, const json& labels = json::object(), int rep = 0) const {
    for (const MetricValue& v : results.metrics) {
      if (v.name != name || v.rep != rep) continue;
      bool ok = true;
      for (auto it = labels.begin(); it != labels.end(); ++it)
        if (!v.labels.contains(it.key()) || v.labels[it.key()] != it.value()) ok = false;
      if (ok) return v.value;
    }
    return std::nan("");
  }
  size_t count(const std::string& name) const {
    size_t n = 0;
    for (const MetricValue& v : results.metrics) n += v.name == name;
    return n;
  }
};

struct TaskSetup {
  std::string method = "fp16";
  json method_params = json::object();
  // What the runner passes as is_reference: true for the reference itself (fp16 alone on the unmodified model).
  // Tests of the KL path say false so that the configuration and the reference run separately.
  bool is_reference = true;
  std::string data_root = ::bp::test::data_root();
  int threads = 2;
  ReferenceCache* reference_cache = nullptr;  // nullptr: a fresh cache for this run
  int* reference_sessions = nullptr;          // counts the reference sessions the task creates
  // Overrides `method`: builds the configuration's sessions directly (e.g. an F32 dense cache).
  std::function<std::unique_ptr<rt::Session>(rt::Model&, int threads)> session_factory;
};

inline TaskRun run_task(const std::string& task, const json& options, const TaskSetup& setup = {}) {
  TaskRun out;
  out.info = TaskRegistry::find(task);
  if (!out.info) throw std::runtime_error("task not registered: " + task);
  Params opts(out.info->options.canonicalize(options, "test", "/options"));
  if (out.info->validate) out.info->validate(opts, "test", "/tasks/0");
  ReferenceCache own_cache;
  CollectingSink sink(*out.info, {});
  rt::Model& m = shared_model();
  TaskContext ctx;
  ctx.model = &m;
  ctx.options = opts;
  ctx.data_root = setup.data_root;
  ctx.threads = setup.threads;
  ctx.new_session = [&] {
    if (setup.session_factory) return setup.session_factory(m, setup.threads);
    return method_session(m, setup.method, setup.method_params, setup.threads);
  };
  ctx.new_reference_session = [&] {
    if (setup.reference_sessions) ++*setup.reference_sessions;
    return method_session(m, "fp16", json::object(), setup.threads);
  };
  ctx.is_reference = setup.is_reference;
  ctx.reference_cache = setup.reference_cache ? setup.reference_cache : &own_cache;
  ctx.sink = &sink;
  std::unique_ptr<Task> t = out.info->make(opts);
  t->run(ctx);
  out.results = sink.results();
  return out;
}

}  // namespace bp::test
