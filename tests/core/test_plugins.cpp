#include "tests/core/test_plugins.h"

#include <chrono>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <thread>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/registry.h"
#include "harness/core/task.h"

namespace bp::test {
std::string test_data_sha256() { return sha256_text(kTestDataText); }
}  // namespace bp::test

namespace {

class EchoTask : public bp::Task {
 public:
  void run(bp::TaskContext& ctx) override {
    const long long n = ctx.options.get_int("n");
    const double value = ctx.options.get_float("value");
    ctx.sink->metric("score", value * (double)n, "");
    const long long reps = ctx.options.get_int("reps");
    for (long long ctxlen : ctx.options.get_int_list("contexts"))
      for (long long r = 0; r < reps; ++r)
        ctx.sink->metric("latency", 10.0 + (double)r, "ms", (int)r, bp::json{{"context", ctxlen}});
    for (long long i = 0; i < n; ++i) ctx.sink->item("item-" + std::to_string(i), (double)(i % 2), {{"i", i}});
    ctx.sink->metric("method_is_reference", ctx.is_reference ? 1.0 : 0.0, "");
  }
};

class FailTask : public bp::Task {
 public:
  void run(bp::TaskContext& ctx) override {
    const std::string unless = ctx.options.get_string("unless_file");
    if (ctx.options.get_bool("fail") && (unless.empty() || !std::filesystem::exists(unless))) {
      const std::string kind = ctx.options.get_string("kind");
      if (kind == "input") throw bp::InputError("test-input.json", "/x", "a planned bad input");
      if (kind == "out-of-memory") throw std::bad_alloc();
      if (kind == "internal") throw std::out_of_range("a planned broken invariant");
      throw std::runtime_error("planned failure");
    }
    ctx.sink->metric("score", 1.0, "");
  }
};

class SleepTask : public bp::Task {
 public:
  void run(bp::TaskContext& ctx) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ctx.options.get_int("ms")));
    ctx.sink->metric("score", 1.0, "");
  }
};

class PartialTask : public bp::Task {
 public:
  void run(bp::TaskContext& ctx) override {
    ctx.sink->metric("score", 1.0, "");
    ctx.sink->item("first", 1.0);
    throw std::runtime_error("failed after reporting");
  }
};

}  // namespace

BENCH_REGISTER_METHOD(test_kv) {
  bp::MethodInfo m;
  m.name = "test-kv";
  m.roles = {bp::Role::KvCache};
  m.composes.partners = {bp::Role::Weights, bp::Role::Tokens};
  m.description = "test-only KV method";
  m.schema.integer_of("bits", 8, {2, 4, 8}, "bit width")
      .real("ratio", 0.5, 0.0, 1.0, "a fraction")
      .boolean("symmetric", true, "symmetric quantization")
      .enumeration("mode", "a", {"a", "b"}, "a mode");
  m.notes = "test parameter rule";
  m.validate = [](const bp::Params& p, const std::string& file, const std::string& pointer) {
    if (p.get_int("bits") == 2 && p.get_float("ratio") > 0.9)
      throw bp::InputError(file, pointer, "expected ratio <= 0.9 with bits 2");
  };
  return m;
}

BENCH_REGISTER_METHOD(test_weight) {
  bp::MethodInfo m;
  m.name = "test-weight";
  m.roles = {bp::Role::Weights};
  m.composes.partners = {bp::Role::Tokens, bp::Role::KvCache};
  m.description = "test-only weight method";
  m.schema.integer("group", 64, 16, 256, "group size");
  m.make_weight_transform = [](const bp::MethodContext&, const bp::Params&) -> std::unique_ptr<bp::rt::WeightTransform> {
    throw std::runtime_error("test-weight cannot transform");
  };
  return m;
}

// A token method that refuses test-kv by name (the composition rule's refusal list), and a method that fills two
// roles at once; neither selects anything: they exist for the suite validator's tests.
BENCH_REGISTER_METHOD(test_token) {
  bp::MethodInfo m;
  m.name = "test-token";
  m.roles = {bp::Role::Tokens};
  m.composes.partners = {bp::Role::Weights, bp::Role::KvCache};
  m.composes.refused = {{"test-kv", "test-kv re-reads pruned tokens (a test rule)"}};
  m.description = "test-only token method";
  m.schema.real("tau", 0.9, 0.0, 1.0, "mass kept");
  return m;
}

BENCH_REGISTER_METHOD(test_tokens_and_cache) {
  bp::MethodInfo m;
  m.name = "test-tokens-and-cache";
  m.roles = {bp::Role::Tokens, bp::Role::KvCache};
  m.composes.partners = {bp::Role::Weights};
  m.description = "test-only method selecting tokens and owning the cache";
  return m;
}

BENCH_REGISTER_METHOD(test_alone) {
  bp::MethodInfo m;
  m.name = "test-alone";
  m.roles = {bp::Role::KvCache};
  m.description = "test-only method that runs alone";
  return m;
}

BENCH_REGISTER_TASK(test_echo) {
  bp::TaskInfo t;
  t.name = "test-echo";
  t.description = "test-only task reporting its options";
  t.protocol = "test-echo";
  t.protocol_version = 3;
  t.options.integer("n", 3, 1, 100, "items")
      .real("value", 1.0, -10.0, 10.0, "score per item")
      .integer("reps", 1, 1, 20, "repetitions of the timed metric")
      .integer_list("contexts", {128}, 1, 100000, "context lengths");
  t.metrics = {{"score", "", bp::Better::Higher}, {"latency", "ms", bp::Better::Lower}, {"method_is_reference", "", bp::Better::None}};
  t.make = [](const bp::Params&) { return std::make_unique<EchoTask>(); };
  return t;
}

BENCH_REGISTER_TASK(test_fail) {
  bp::TaskInfo t;
  t.name = "test-fail";
  t.description = "test-only task that fails on request";
  t.protocol = "test-fail";
  t.options.boolean("fail", true, "throw").string("unless_file", "", "succeed anyway when this file exists")
      .enumeration("kind", "runtime", {"runtime", "input", "out-of-memory", "internal"}, "what to throw");
  t.metrics = {{"score", "", bp::Better::Higher}};
  t.make = [](const bp::Params&) { return std::make_unique<FailTask>(); };
  return t;
}

BENCH_REGISTER_TASK(test_sleep) {
  bp::TaskInfo t;
  t.name = "test-sleep";
  t.description = "test-only task that sleeps";
  t.protocol = "test-sleep";
  t.options.integer("ms", 0, 0, 10000, "sleep").integer("id", 0, 0, 1000, "distinguishes configurations")
      .boolean("with_data", false, "declare a data file");
  t.metrics = {{"score", "", bp::Better::Higher}};
  t.data_files = [](const bp::Params& p) {
    std::vector<bp::DataFile> files;
    if (p.get_bool("with_data")) files.push_back({"test-data/hello.txt", bp::test::test_data_sha256()});
    return files;
  };
  t.make = [](const bp::Params&) { return std::make_unique<SleepTask>(); };
  return t;
}

BENCH_REGISTER_TASK(test_partial) {
  bp::TaskInfo t;
  t.name = "test-partial";
  t.description = "test-only task that fails after reporting";
  t.protocol = "test-partial";
  t.metrics = {{"score", "", bp::Better::Higher}};
  t.make = [](const bp::Params&) { return std::make_unique<PartialTask>(); };
  return t;
}
