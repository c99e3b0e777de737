// gsm8k: the 8-shot prompt, answer extraction, the loader on the shared file, and a one-item real-model smoke.
#include <gtest/gtest.h>

#include "datasets/gsm8k/gsm8k.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Gsm8k, PromptHasTheEightExemplarsThenTheQuestion) {
  const std::string p = gsm8k_prompt("How many legs do 3 cats have?", 8);
  EXPECT_TRUE(p.starts_with("Q: There are 15 trees in the grove."));
  EXPECT_TRUE(p.ends_with("\n\nQ: How many legs do 3 cats have?\nA:"));
  EXPECT_EQ(count(p, "Q: "), 9u);
  EXPECT_EQ(count(p, "The answer is "), 8u);
  EXPECT_NE(p.find("A: Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - "
                   "15 dollars left. 23 - 15 is 8. The answer is 8.\n\n"),
            std::string::npos);
  EXPECT_EQ(gsm8k_prompt("Q?", 0), "Q: Q?\nA:");
  EXPECT_EQ(count(gsm8k_prompt("Q?", 2), "The answer is "), 2u);
}

TEST(Gsm8k, ExtractsTheStatedAnswer) {
  EXPECT_EQ(gsm8k_extract_answer(" 3 + 4 = 7. The answer is 7."), "7");
  EXPECT_EQ(gsm8k_extract_answer("The answer is $1,250.00."), "1250");
  EXPECT_EQ(gsm8k_extract_answer("The answer is -3. The answer is 5."), "-3");
  EXPECT_EQ(gsm8k_extract_answer("work\n#### 42"), "42");
  EXPECT_EQ(gsm8k_extract_answer("it is 9"), std::nullopt);
  EXPECT_EQ(gsm8k_extract_answer("The answer is unknown"), std::nullopt);
}

TEST(Gsm8k, LoaderReadsTheSharedTestSplit) {
  auto items = load_gsm8k(test::data_root(), kGsm8kTest);
  ASSERT_EQ(items.size(), 1319u);
  EXPECT_EQ(items[0].key, "0");
  for (const auto& it : items) ASSERT_FALSE(it.answer.empty());
}

TEST(Gsm8k, OneItemSmokeWithTheDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskRun r = test::run_task("gsm8k", {{"limit", 1}, {"max_new_tokens", 24}, {"seed", 3}});
  ASSERT_EQ(r.results.items.size(), 1u);
  const ItemValue& it = r.results.items[0];
  EXPECT_LE(it.detail["generated_tokens"].get<int>(), 24);
  EXPECT_GT(it.detail["prompt_tokens"].get<int>(), 700);  // the 8-shot prefix alone is ~750 tokens
  const auto got = gsm8k_extract_answer(it.detail["generation"]);
  EXPECT_EQ(it.score, got && *got == it.detail["gold"].get<std::string>() ? 1.0 : 0.0);
  EXPECT_EQ(r.metric("items"), 1.0);
  EXPECT_EQ(r.metric("exact_match"), it.score);
}

}  // namespace
}  // namespace bp::data
