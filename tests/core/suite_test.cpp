// Suite parsing: expansion of sweeps, canonical parameters, and every validation error with its exact text.
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/core/plan.h"
#include "harness/core/suite.h"

namespace bp {
namespace {

Suite parse(const std::string& text) { return parse_suite(text, "s.json", "/suites"); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// A valid suite with one part replaced: `tasks` and `methods` are JSON texts.
std::string suite_with(const std::string& tasks, const std::string& methods, const std::string& extra = "") {
  return R"({"name": "t", "model": "/m/model.gguf", "tasks": )" + tasks + R"(, "methods": )" + methods + extra + "}";
}

TEST(Suite, ExpandsSweepsAsCartesianProductsInSortedKeyOrder) {
  Suite s = parse(suite_with(R"([{"task": "test-echo", "sweep": {"n": [1, 2]}}, {"task": "test-fail", "options": {"fail": false}}])",
                             R"([{"method": "test-kv", "params": {"ratio": 0.25}, "sweep": {"mode": ["a", "b"], "bits": [2, 4]}},
                                 {"method": "fp16"}])"));
  ASSERT_EQ(s.tasks.size(), 3u);
  EXPECT_EQ(s.tasks[0].label(), "test-echo(n=1)");
  EXPECT_EQ(s.tasks[1].label(), "test-echo(n=2)");
  EXPECT_EQ(s.tasks[2].label(), "test-fail(fail=false)");
  ASSERT_EQ(s.methods.size(), 5u);
  // "bits" sorts before "mode": bits varies slowest.
  EXPECT_EQ(s.methods[0].label(), "test-kv(bits=2,mode=a,ratio=0.25)");
  EXPECT_EQ(s.methods[1].label(), "test-kv(bits=2,mode=b,ratio=0.25)");
  EXPECT_EQ(s.methods[2].label(), "test-kv(bits=4,mode=a,ratio=0.25)");
  EXPECT_EQ(s.methods[3].label(), "test-kv(bits=4,mode=b,ratio=0.25)");
  EXPECT_EQ(s.methods[4].label(), "fp16");
  // Canonical parameters: every parameter present, defaults filled, keys sorted.
  EXPECT_EQ(s.methods[0].members[0].params.canonical_text(), R"({"bits":2,"mode":"a","ratio":0.25,"symmetric":true})");
  EXPECT_EQ(s.tasks[0].options.canonical_text(), R"({"contexts":[128],"n":1,"reps":1,"value":1.0})");
  auto plan = expand_plan(s);
  ASSERT_EQ(plan.size(), 15u);
  EXPECT_EQ(plan[0].label, "test-echo(n=1) / test-kv(bits=2,mode=a,ratio=0.25)");
  EXPECT_EQ(plan[4].label, "test-echo(n=1) / fp16");
  EXPECT_EQ(plan[14].label, "test-fail(fail=false) / fp16");
  for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(plan[i].plan_index, i);
}

TEST(Suite, DefaultsAndSettings) {
  Suite s = parse(R"({"name": "x.y-z_1", "description": "d", "model": "rel/model.gguf", "data_root": "../data",
                      "threads": 4, "seed": 7, "device": "cpu", "tasks": [{"task": "test-echo"}],
                      "methods": [{"method": "fp16"}], "metrics": ["score"]})");
  EXPECT_EQ(s.name, "x.y-z_1");
  EXPECT_EQ(s.description, "d");
  ASSERT_EQ(s.models.size(), 1u);
  EXPECT_EQ(s.models[0].path, "/suites/rel/model.gguf");  // relative to the suite's directory
  EXPECT_EQ(s.models[0].storage, rt::WeightStorage::F32);
  EXPECT_EQ(*s.data_root, "/data");
  EXPECT_EQ(s.threads, 4);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.metrics, std::vector<std::string>{"score"});
  Suite d = parse(suite_with(R"([{"task": "test-echo"}])", R"([{"method": "fp16"}])"));
  EXPECT_EQ(d.threads, 1);
  EXPECT_EQ(d.seed, 0u);
  EXPECT_EQ(d.device, "cpu");
  EXPECT_FALSE(d.data_root.has_value());
  EXPECT_TRUE(d.metrics.empty());
  EXPECT_EQ(s.sha256.size(), 64u);
}

TEST(Suite, ModelForms) {
  Suite reg = parse(R"({"name": "t", "model": "smollm2-135m-instruct", "tasks": [{"task": "test-echo"}], "methods": [{"method": "fp16"}]})");
  EXPECT_EQ(reg.models[0].name, "smollm2-135m-instruct");
  EXPECT_TRUE(reg.models[0].path.ends_with("/benchpress/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
  Suite several = parse(R"({"name": "t", "model": [{"name": "smollm2-135m-instruct", "storage": "f16"}, {"path": "/abs/dir"}],
                            "tasks": [{"task": "test-echo"}], "methods": [{"method": "fp16"}, {"method": "test-kv"}]})");
  ASSERT_EQ(several.models.size(), 2u);
  EXPECT_EQ(several.models[0].storage, rt::WeightStorage::F16);
  EXPECT_EQ(several.models[0].label(), "smollm2-135m-instruct[f16]");
  EXPECT_EQ(several.models[1].path, "/abs/dir");
  auto plan = expand_plan(several);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].label, "test-echo / fp16 @ smollm2-135m-instruct[f16]");
  EXPECT_EQ(plan[3].label, "test-echo / test-kv @ dir");
}

TEST(Suite, IntegralFloatsAreIntegers) {
  Suite s = parse(suite_with(R"([{"task": "test-echo", "options": {"n": 4.0, "contexts": [512.0, 1024]}}])",
                             R"([{"method": "test-kv", "sweep": {"bits": [4.0]}}])"));
  EXPECT_EQ(s.methods[0].members[0].params.canonical_text(), R"({"bits":4,"mode":"a","ratio":0.5,"symmetric":true})");
  EXPECT_EQ(s.methods[0].label(), "test-kv(bits=4)");
  EXPECT_EQ(s.tasks[0].options.values()["contexts"], json::parse("[512, 1024]"));
}

struct ErrorCase {
  const char* name;
  std::string suite;
  std::string expected;
};

class SuiteErrors : public ::testing::TestWithParam<ErrorCase> {};

// An expectation ending in "[" is a prefix: the rest lists registered names, which grow as plugins land.
TEST_P(SuiteErrors, NameFilePointerAndExpectation) {
  const std::string& expected = GetParam().expected;
  std::string got = error_of(GetParam().suite);
  if (expected.ends_with("[")) EXPECT_EQ(got.substr(0, expected.size()), expected) << got;
  else EXPECT_EQ(got, expected);
}

const std::string kT = R"([{"task": "test-echo"}])";
const std::string kM = R"([{"method": "fp16"}])";

INSTANTIATE_TEST_SUITE_P(
    All, SuiteErrors,
    ::testing::Values(
        ErrorCase{"invalid_json", "{\"name\": \"t\",\n \"model\": }",
                  "s.json: invalid JSON: parse error at line 2, column 11: syntax error while parsing value - unexpected '}'; expected '[', '{', or a literal"},
        ErrorCase{"duplicate_key", R"({"name": "t", "tasks": [{"task": "a", "task": "b"}]})",
                  "s.json: /tasks/0/task: duplicate key \"task\"; expected each key at most once in an object"},
        ErrorCase{"not_object", "[1, 2]", "s.json: expected a suite (a JSON object), got [1,2]"},
        ErrorCase{"unknown_key", suite_with(kT, kM, R"(, "model_path": "x")"),
                  "s.json: /model_path: unknown key \"model_path\"; expected one of [\"name\", \"description\", \"model\", \"data_root\", \"threads\", \"seed\", \"device\", \"tasks\", \"methods\", \"latency\", \"metrics\"]"},
        ErrorCase{"missing_name", R"({"model": "/m.gguf", "tasks": [], "methods": []})",
                  "s.json: missing key \"name\"; expected the suite name"},
        ErrorCase{"bad_name", R"({"name": "has space"})",
                  "s.json: /name: expected a suite name of at most 64 letters, digits, '.', '_', '-' (starting with a letter or digit), got \"has space\""},
        ErrorCase{"description_type", R"({"name": "t", "description": 3})", "s.json: /description: expected a string, got 3"},
        ErrorCase{"missing_model", R"({"name": "t"})",
                  "s.json: missing key \"model\"; expected a model: a registry name, a path to a .gguf file or model directory, or {\"name\"|\"path\": ..., \"storage\": \"f32\"|\"f16\"}"},
        ErrorCase{"unknown_model", R"({"name": "t", "model": "llama-7b"})",
                  "s.json: /model: unknown model \"llama-7b\"; expected a registry name (one of [\"smollm2-135m-instruct\"]) or a path to a .gguf file or model directory (a path contains '/' or ends in .gguf)"},
        ErrorCase{"model_both", R"({"name": "t", "model": {"name": "a", "path": "b"}})",
                  "s.json: /model: expected exactly one of \"name\" (a registry name) and \"path\" (a file or directory)"},
        ErrorCase{"model_storage", R"({"name": "t", "model": {"path": "m.gguf", "storage": "q8"}})",
                  "s.json: /model/storage: expected one of [\"f32\", \"f16\"], got \"q8\""},
        ErrorCase{"model_name_is_path", R"({"name": "t", "model": {"name": "/a/b.gguf"}})",
                  "s.json: /model/name: expected a registry name (one of [\"smollm2-135m-instruct\"]), got \"/a/b.gguf\""},
        ErrorCase{"model_empty_list", R"({"name": "t", "model": []})", "s.json: /model: expected a non-empty list of models, got []"},
        ErrorCase{"model_duplicate", R"({"name": "t", "model": ["/a.gguf", {"path": "/a.gguf"}]})",
                  "s.json: /model/1: duplicate model a.gguf (also at /model/0); expected distinct models"},
        ErrorCase{"threads_zero", suite_with(kT, kM, R"(, "threads": 0)"), "s.json: /threads: expected an integer in [1, 1024], got 0"},
        ErrorCase{"threads_string", suite_with(kT, kM, R"(, "threads": "2")"), "s.json: /threads: expected an integer in [1, 1024], got \"2\""},
        ErrorCase{"seed_negative", suite_with(kT, kM, R"(, "seed": -1)"), "s.json: /seed: expected an integer in [0, 2^53], got -1"},
        ErrorCase{"device", suite_with(kT, kM, R"(, "device": "tpu")"),
                  "s.json: /device: expected one of [\"cpu\", \"cuda\"], got \"tpu\""},
        ErrorCase{"data_root_type", suite_with(kT, kM, R"(, "data_root": 1)"),
                  "s.json: /data_root: expected a directory path (a non-empty string), got 1"},
        ErrorCase{"tasks_missing", R"({"name": "t", "model": "/m.gguf", "methods": []})",
                  "s.json: missing key \"tasks\"; expected a non-empty list of task entries (or a \"latency\" section)"},
        ErrorCase{"tasks_empty", suite_with("[]", kM), "s.json: /tasks: expected a non-empty list of task entries, got []"},
        ErrorCase{"task_entry_type", suite_with(R"(["test-echo"])", kM),
                  "s.json: /tasks/0: expected a task entry (a JSON object), got \"test-echo\""},
        ErrorCase{"task_entry_key", suite_with(R"([{"task": "test-echo", "params": {}}])", kM),
                  "s.json: /tasks/0/params: unknown key \"params\"; expected one of [\"task\", \"options\", \"sweep\"]"},
        ErrorCase{"task_missing_name", suite_with(R"([{"options": {}}])", kM),
                  "s.json: /tasks/0: missing key \"task\"; expected the task name"},
        ErrorCase{"task_unknown", suite_with(R"([{"task": "test-echo"}, {"task": "wikitext3"}])", kM),
                  "s.json: /tasks/1/task: unknown task \"wikitext3\"; expected one of ["},
        ErrorCase{"options_type", suite_with(R"([{"task": "test-echo", "options": [1]}])", kM),
                  "s.json: /tasks/0/options: expected an object of option values, got [1]"},
        ErrorCase{"option_unknown", suite_with(R"([{"task": "test-echo", "options": {"m": 1}}])", kM),
                  "s.json: /tasks/0/options/m: unknown parameter \"m\"; expected one of [\"n\", \"value\", \"reps\", \"contexts\"]"},
        ErrorCase{"option_range", suite_with(R"([{"task": "test-echo", "options": {"n": 101}}])", kM),
                  "s.json: /tasks/0/options/n: expected an integer in [1, 100], got 101"},
        ErrorCase{"option_fraction", suite_with(R"([{"task": "test-echo", "options": {"n": 2.5}}])", kM),
                  "s.json: /tasks/0/options/n: expected an integer in [1, 100], got 2.5"},
        ErrorCase{"option_list", suite_with(R"([{"task": "test-echo", "options": {"contexts": []}}])", kM),
                  "s.json: /tasks/0/options/contexts: expected a non-empty list of integers in [1, 100000], got []"},
        ErrorCase{"sweep_type", suite_with(R"([{"task": "test-echo", "sweep": [1]}])", kM),
                  "s.json: /tasks/0/sweep: expected an object mapping names to lists of values, got [1]"},
        ErrorCase{"sweep_not_list", suite_with(R"([{"task": "test-echo", "sweep": {"n": 3}}])", kM),
                  "s.json: /tasks/0/sweep/n: expected a non-empty list of values to sweep, got 3"},
        ErrorCase{"sweep_empty", suite_with(kT, R"([{"method": "test-kv", "sweep": {"bits": []}}])"),
                  "s.json: /methods/0/sweep/bits: expected a non-empty list of values to sweep, got []"},
        ErrorCase{"sweep_unknown", suite_with(kT, R"([{"method": "test-kv", "sweep": {"bit": [2]}}])"),
                  "s.json: /methods/0/sweep/bit: cannot sweep \"bit\": not a parameter of \"test-kv\"; expected one of [\"bits\", \"ratio\", \"symmetric\", \"mode\"]"},
        ErrorCase{"sweep_and_fixed", suite_with(kT, R"([{"method": "test-kv", "params": {"bits": 4}, "sweep": {"bits": [2]}}])"),
                  "s.json: /methods/0/sweep/bits: \"bits\" is both fixed (in /methods/0/params) and swept; expected it in only one of them"},
        ErrorCase{"sweep_duplicate_value", suite_with(kT, R"([{"method": "test-kv", "sweep": {"bits": [4, 8, 4.0]}}])"),
                  "s.json: /methods/0/sweep/bits/2: duplicate sweep value 4.0 (also at /methods/0/sweep/bits/0); expected distinct values"},
        ErrorCase{"sweep_value_range", suite_with(kT, R"([{"method": "test-kv", "sweep": {"bits": [4, 3]}}])"),
                  "s.json: /methods/0/sweep/bits/1: expected an integer, one of [2, 4, 8], got 3"},
        ErrorCase{"param_type", suite_with(kT, R"([{"method": "test-kv", "params": {"symmetric": "yes"}}])"),
                  "s.json: /methods/0/params/symmetric: expected true or false, got \"yes\""},
        ErrorCase{"param_enum", suite_with(kT, R"([{"method": "test-kv", "params": {"mode": "c"}}])"),
                  "s.json: /methods/0/params/mode: expected one of [\"a\", \"b\"], got \"c\""},
        ErrorCase{"param_float_range", suite_with(kT, R"([{"method": "test-kv", "params": {"ratio": 1.5}}])"),
                  "s.json: /methods/0/params/ratio: expected a number in [0, 1], got 1.5"},
        ErrorCase{"params_type", suite_with(kT, R"([{"method": "test-kv", "params": 4}])"),
                  "s.json: /methods/0/params: expected an object of parameter values, got 4"},
        ErrorCase{"cross_param", suite_with(kT, R"([{"method": "test-kv", "params": {"ratio": 0.95}, "sweep": {"bits": [8, 2]}}])"),
                  "s.json: /methods/0: expected ratio <= 0.9 with bits 2"},
        ErrorCase{"methods_missing", R"({"name": "t", "model": "/m.gguf", "tasks": [{"task": "test-echo"}]})",
                  "s.json: missing key \"methods\"; expected a non-empty list of method entries"},
        ErrorCase{"methods_empty", suite_with(kT, "[]"), "s.json: /methods: expected a non-empty list of method entries, got []"},
        ErrorCase{"method_unknown", suite_with(kT, R"([{"method": "kv-int9"}])"),
                  "s.json: /methods/0/method: unknown method \"kv-int9\"; expected one of ["},
        ErrorCase{"method_name_type", suite_with(kT, R"([{"method": 8}])"),
                  "s.json: /methods/0/method: expected a method name (a non-empty string), got 8"},
        ErrorCase{"duplicate_method", suite_with(kT, R"([{"method": "test-kv", "params": {"bits": 8}}, {"method": "test-kv"}])"),
                  "s.json: /methods/1: duplicate configuration: method \"test-kv\" with parameters {\"bits\":8,\"mode\":\"a\",\"ratio\":0.5,\"symmetric\":true} is already given by /methods/0; expected distinct entries"},
        ErrorCase{"duplicate_task", suite_with(R"([{"task": "test-echo", "sweep": {"n": [2, 3]}}, {"task": "test-echo"}])", kM),
                  "s.json: /tasks/1: duplicate configuration: task \"test-echo\" with options {\"contexts\":[128],\"n\":3,\"reps\":1,\"value\":1.0} is already given by /tasks/0; expected distinct entries"},
        ErrorCase{"metrics_type", suite_with(kT, kM, R"(, "metrics": "score")"),
                  "s.json: /metrics: expected a non-empty list of metric names, got \"score\""},
        ErrorCase{"metrics_unknown", suite_with(kT, kM, R"(, "metrics": ["score", "ppl"])"),
                  "s.json: /metrics/1: unknown metric \"ppl\"; expected one reported by the suite's tasks: [\"score\", \"latency\", \"method_is_reference\"]"},
        ErrorCase{"metrics_duplicate", suite_with(kT, kM, R"(, "metrics": ["score", "score"])"),
                  "s.json: /metrics/1: duplicate metric \"score\"; expected each metric once"},
        ErrorCase{"latency_type", suite_with(kT, kM, R"(, "latency": [512])"),
                  "s.json: /latency: expected the options of the latency task (a JSON object), got [512]"}),
    [](const ::testing::TestParamInfo<ErrorCase>& p) { return std::string(p.param.name); });

// Messages that end in a list of registered names are compared up to the list (it grows as plugins land).
TEST(Suite, UnknownNamesListWhatIsRegistered) {
  std::string e = error_of(suite_with(kT, R"([{"method": "kv-int9"}])"));
  EXPECT_NE(e.find("\"fp16\""), std::string::npos) << e;
  EXPECT_NE(e.find("\"test-kv\""), std::string::npos) << e;
}

// The "latency" section is shorthand for the latency task (datasets/latency) with those options.
TEST(Suite, LatencySectionIsTheLatencyTask) {
  ASSERT_NE(TaskRegistry::find("latency"), nullptr);
  Suite s = parse(R"({"name": "t", "model": "/m.gguf", "latency": {"contexts": [512, 1024], "repetitions": 2},
                      "methods": [{"method": "fp16"}]})");
  ASSERT_EQ(s.tasks.size(), 1u);
  EXPECT_EQ(s.tasks[0].info->name, "latency");
  EXPECT_EQ(s.tasks[0].pointer, "/latency");
  EXPECT_EQ(s.tasks[0].options.values()["contexts"], json::parse("[512, 1024]"));
  EXPECT_EQ(s.tasks[0].label(), "latency(contexts=[512,1024],repetitions=2)");
  std::string e = error_of(R"({"name": "t", "model": "/m.gguf", "latency": {"context": 512}, "methods": [{"method": "fp16"}]})");
  EXPECT_TRUE(e.starts_with("s.json: /latency/context: unknown parameter \"context\"; expected one of [")) << e;
  // The section and an equal task entry are the same configuration.
  e = error_of(R"({"name": "t", "model": "/m.gguf", "tasks": [{"task": "latency", "options": {"contexts": [512]}}],
                   "latency": {"contexts": [512]}, "methods": [{"method": "fp16"}]})");
  EXPECT_TRUE(e.starts_with("s.json: /latency: duplicate configuration: task \"latency\" with options")) << e;
}

TEST(Suite, ReadsFilesAndReportsUnreadableOnes) {
  try {
    load_suite("/nonexistent/suite.json");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/suite.json: cannot read the file (missing or unreadable)");
  }
}

}  // namespace
}  // namespace bp
