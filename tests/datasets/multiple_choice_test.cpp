// Multiple-choice tasks: loaders on hand-made fixtures (tests/datasets/fixtures), HellaSwag's preprocessing,
// lm-evaluation-harness tokenization, the prefill+decode scorer against a one-shot prefill, and real-model smokes.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/arc/arc.h"
#include "datasets/common/logprob.h"
#include "datasets/hellaswag/hellaswag.h"
#include "datasets/piqa/piqa.h"
#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

std::string fixtures() { return test::source_dir() + "/tests/datasets/fixtures"; }
DataFile fixture(const std::string& rel) { return {rel, sha256_file(fixtures() + "/" + rel)}; }

TEST(PiqaLoader, BuildsHarnessPromptsAndGoldFromLabels) {
  auto items = load_piqa(fixtures(), fixture("piqa/valid.jsonl"), fixture("piqa/valid-labels.lst"));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[1].key, "1");
  EXPECT_EQ(items[1].context, "Question: Dry a wet phone.\nAnswer:");
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{"Put it in the oven at full heat.",
                                                        "Turn it off and leave it in a bag of dry rice."}));
  EXPECT_EQ(items[1].gold, 1);
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[0].delimiter, " ");
  // Labels must line up with questions.
  DataFile labels = fixture("piqa/valid-labels.lst");
  // A labels file with fewer lines than questions.
  EXPECT_THROW(load_piqa(fixtures(), fixture("piqa/valid.jsonl"), fixture("arc/mini.jsonl")), InputError);
  labels.sha256 = std::string(64, '0');
  EXPECT_THROW(load_piqa(fixtures(), fixture("piqa/valid.jsonl"), labels), InputError);
}

TEST(ArcLoader, GoldIsTheChoiceLabelledAnswerKeyLettersOrDigits) {
  auto items = load_arc(fixtures(), fixture("arc/mini.jsonl"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "Mini_1");
  EXPECT_EQ(items[0].context, "Question: Which of these is a source of light?\nAnswer:");
  EXPECT_EQ(items[0].choices.size(), 4u);
  EXPECT_EQ(items[0].gold, 1);
  EXPECT_EQ(items[1].choices.size(), 3u);
  EXPECT_EQ(items[1].gold, 0);
}

TEST(ArcLoader, TheSharedArcChallengeFileLoads) {
  auto items = load_arc(test::data_root(), kArcChallengeTest);
  EXPECT_EQ(items.size(), 1172u);
  size_t five = 0;
  for (const McItem& it : items) five += it.choices.size() == 5;
  EXPECT_EQ(five, 3u);  // README: 5 choices in 3 items
}

TEST(Hellaswag, PreprocessingFollowsTheHarness) {
  EXPECT_EQ(hellaswag_preprocess("  a [title] b "), "a. b");  // " [title]" -> ". ", then "  " -> " "
  EXPECT_EQ(hellaswag_preprocess("x [step] y"), "x y");
  EXPECT_EQ(hellaswag_preprocess("x [a][b]z"), "x z");
  EXPECT_EQ(hellaswag_preprocess("x   y"), "x  y");  // one pass of "  " -> " ", as str.replace
  EXPECT_EQ(hellaswag_preprocess("open [bracket"), "open [bracket");
  EXPECT_EQ(hellaswag_preprocess("a [line\nbreak] b"), "a [line\nbreak] b");
  EXPECT_EQ(capitalize_ascii("hELLO world"), "Hello world");
  EXPECT_EQ(capitalize_ascii(""), "");
}

TEST(Hellaswag, LoaderBuildsContextAndEndings) {
  auto items = load_hellaswag(fixtures(), fixture("hellaswag/mini.jsonl"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "7");
  EXPECT_EQ(items[0].context, "Making tea: A man fills a kettle with water. He");
  EXPECT_EQ(items[0].choices[0], "puts the kettle on the stove  and waits.");
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[1].context, "Home and Garden: How to water a plant. Check the soil. If the soil is dry,");
  EXPECT_EQ(items[1].gold, 0);  // "0" as a string
}

TEST(McTokenization, ContinuationIsTheTailBeyondTheContext) {
  BENCH_REQUIRE_MODEL(path);
  const rt::Tokenizer& tok = test::shared_model().tokenizer();
  const std::string ctx = "Question: Which of these is a source of light?\nAnswer:";
  EncodedPair p = encode_pair(tok, ctx, " the Sun");
  EXPECT_EQ(p.context, tok.encode(ctx, false, false));
  std::vector<int32_t> whole = tok.encode(ctx + " the Sun", false, false);
  ASSERT_EQ(p.context.size() + p.continuation.size(), whole.size());
  EXPECT_TRUE(std::equal(p.continuation.begin(), p.continuation.end(), whole.end() - (ptrdiff_t)p.continuation.size()));
  // Trailing whitespace of the context moves to the continuation.
  EncodedPair q = encode_pair(tok, "Answer: ", "yes");
  EncodedPair r = encode_pair(tok, "Answer:", " yes");
  EXPECT_EQ(q.context, r.context);
  EXPECT_EQ(q.continuation, r.continuation);
}

TEST(McScoring, PrefillThenDecodeEqualsOneFullPrefillWithFp16) {
  BENCH_REQUIRE_MODEL(path);
  rt::Model& m = test::shared_model();
  EncodedPair p = encode_pair(m.tokenizer(), "Question: Dry a wet phone.\nAnswer:",
                              " Turn it off and leave it in a bag of dry rice.");
  auto s = test::method_session(m, "fp16", json::object(), 2);
  ContinuationScore sc = score_continuation(*s, p.context, p.continuation);
  // Independent computation: the whole sequence in one prefill, summing the continuation rows.
  std::vector<int32_t> all = p.context;
  all.insert(all.end(), p.continuation.begin(), p.continuation.end());
  auto s2 = test::method_session(m, "fp16", json::object(), 2);
  const float* rows = s2->prefill(all, rt::Logits::All);
  const int V = m.config().vocab_size;
  double want = 0;
  for (size_t i = 0; i < p.continuation.size(); ++i)
    want -= token_nll(rows + (p.context.size() - 1 + i) * (size_t)V, V, p.continuation[i]);
  EXPECT_LT(sc.logprob, 0.0);
  EXPECT_NEAR(sc.logprob, want, 2e-3 * std::max(1.0, std::abs(want)));
}

void expect_consistent(const test::TaskRun& r, size_t n) {
  EXPECT_EQ(r.metric("items"), (double)n);
  ASSERT_EQ(r.results.items.size(), n);
  double acc = 0, acc_norm = 0;
  for (const ItemValue& it : r.results.items) {
    acc += it.score;
    acc_norm += it.detail["acc_norm"].get<int>();
    for (double lp : it.detail["logprobs"].get<std::vector<double>>()) EXPECT_LT(lp, 0.0);
    EXPECT_EQ(it.score, it.detail["chosen"] == it.detail["gold"] ? 1.0 : 0.0);
  }
  EXPECT_DOUBLE_EQ(r.metric("acc"), acc / (double)n);
  EXPECT_DOUBLE_EQ(r.metric("acc_norm"), acc_norm / (double)n);
  EXPECT_GE(r.metric("acc_stderr"), 0.0);
}

TEST(McTasks, PiqaAndArcChallengeSmokeWithTheDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskRun piqa = test::run_task("piqa", {{"limit", 3}, {"seed", 5}});
  expect_consistent(piqa, 3);
  test::TaskRun again = test::run_task("piqa", {{"limit", 3}, {"seed", 5}});
  ASSERT_EQ(again.results.items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(again.results.items[i].key, piqa.results.items[i].key);  // same subset
    EXPECT_EQ(again.results.items[i].detail, piqa.results.items[i].detail);  // deterministic scores
  }
  test::TaskRun arc = test::run_task("arc-challenge", {{"limit", 2}});
  expect_consistent(arc, 2);
}

TEST(McTasks, UserSuppliedArcEasyAndHellaswagFilesRun) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskSetup setup;
  setup.data_root = fixtures();
  test::TaskRun arc = test::run_task("arc-easy", {{"file", "arc/mini.jsonl"}, {"sha256", fixture("arc/mini.jsonl").sha256}},
                                     setup);
  expect_consistent(arc, 2);
  EXPECT_EQ(arc.results.items[0].key, "Mini_1");
  test::TaskRun hs = test::run_task(
      "hellaswag", {{"file", "hellaswag/mini.jsonl"}, {"sha256", fixture("hellaswag/mini.jsonl").sha256}}, setup);
  expect_consistent(hs, 2);
  EXPECT_THROW(test::run_task("hellaswag", {{"file", "hellaswag/mini.jsonl"}, {"sha256", std::string(64, '1')}}, setup),
               InputError);
}

}  // namespace
}  // namespace bp::data
