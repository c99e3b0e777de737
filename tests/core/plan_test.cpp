// Plan filtering and the model-loading order.
#include <gtest/gtest.h>

#include "harness/common/error.h"
#include "harness/core/plan.h"

namespace bp {
namespace {

Suite parse(const std::string& text) { return parse_suite(text, "s.json", "/suites"); }

std::vector<std::string> labels(const std::vector<Configuration>& plan) {
  std::vector<std::string> out;
  for (const auto& c : plan) out.push_back(c.label);
  return out;
}

TEST(Plan, FilterMatchesLabelsAnywhere) {
  Suite s = parse(R"({"name": "t", "model": "/m.gguf", "tasks": [{"task": "test-echo", "sweep": {"n": [1, 2]}}],
                      "methods": [{"method": "fp16"}, {"method": "test-kv", "sweep": {"bits": [2, 4]}}]})");
  auto plan = expand_plan(s);
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(labels(filter_plan(plan, "bits=4")),
            (std::vector<std::string>{"test-echo(n=1) / test-kv(bits=4)", "test-echo(n=2) / test-kv(bits=4)"}));
  EXPECT_EQ(labels(filter_plan(plan, "^test-echo\\(n=2\\) / fp16$")), std::vector<std::string>{"test-echo(n=2) / fp16"});
  // Plan indices survive filtering (they identify the configuration within the suite).
  EXPECT_EQ(filter_plan(plan, "n=2.*bits=2")[0].plan_index, 4u);
  EXPECT_TRUE(filter_plan(plan, "nothing").empty());
  try {
    filter_plan(plan, "(unclosed");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("--filter: expected a valid regular expression, got \"(unclosed\""))
        << e.what();
  }
}

TEST(Plan, OrdersSoEachModelAndWeightVariantLoadsOnce) {
  Suite s = parse(R"({"name": "t", "model": ["/a.gguf", "/b.gguf"],
                      "tasks": [{"task": "test-echo", "sweep": {"n": [1, 2]}}],
                      "methods": [{"method": "test-weight", "sweep": {"group": [32, 64]}}, {"method": "fp16"}]})");
  auto order = order_for_loading(expand_plan(s));
  EXPECT_EQ(labels(order), (std::vector<std::string>{
                               "test-echo(n=1) / fp16 @ a.gguf",
                               "test-echo(n=2) / fp16 @ a.gguf",
                               "test-echo(n=1) / test-weight(group=32) @ a.gguf",
                               "test-echo(n=2) / test-weight(group=32) @ a.gguf",
                               "test-echo(n=1) / test-weight(group=64) @ a.gguf",
                               "test-echo(n=2) / test-weight(group=64) @ a.gguf",
                               "test-echo(n=1) / fp16 @ b.gguf",
                               "test-echo(n=2) / fp16 @ b.gguf",
                               "test-echo(n=1) / test-weight(group=32) @ b.gguf",
                               "test-echo(n=2) / test-weight(group=32) @ b.gguf",
                               "test-echo(n=1) / test-weight(group=64) @ b.gguf",
                               "test-echo(n=2) / test-weight(group=64) @ b.gguf",
                           }));
  // Count model instance switches: one per distinct instance.
  int switches = 0;
  for (size_t i = 0; i < order.size(); ++i) switches += i == 0 || model_instance_key(order[i]) != model_instance_key(order[i - 1]);
  EXPECT_EQ(switches, 6);
}

TEST(Plan, KeepsSuiteOrderWithoutWeightMethods) {
  Suite s = parse(R"({"name": "t", "model": "/m.gguf", "tasks": [{"task": "test-echo"}, {"task": "test-fail"}],
                      "methods": [{"method": "test-kv"}, {"method": "fp16"}]})");
  auto plan = expand_plan(s);
  EXPECT_EQ(labels(order_for_loading(plan)), labels(plan));
}

}  // namespace
}  // namespace bp
