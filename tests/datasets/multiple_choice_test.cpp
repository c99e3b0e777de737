// Multiple-choice tasks: loaders on hand-made fixtures (tests/datasets/fixtures), HellaSwag's preprocessing,
// lm-evaluation-harness tokenization, the prefill+decode scorer against a one-shot prefill, and real-model smokes.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/common/logprob.h"
#include "datasets/multiple_choice/mc_files.h"
#include "datasets/multiple_choice/mc_mapping.h"
#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

std::string fixtures() { return test::source_dir() + "/tests/datasets/fixtures"; }
DataFile fixture(const std::string& rel) { return {rel, sha256_file(fixtures() + "/" + rel)}; }

TEST(PiqaLoader, BuildsHarnessPromptsAndGoldFromLabels) {
  auto items = load_mapped(fixtures(), mc_preset("piqa"), fixture("piqa/valid.jsonl"), fixture("piqa/valid-labels.lst"));
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
  EXPECT_THROW(load_mapped(fixtures(), mc_preset("piqa"), fixture("piqa/valid.jsonl"), fixture("arc/mini.jsonl")), InputError);
  labels.sha256 = std::string(64, '0');
  EXPECT_THROW(load_mapped(fixtures(), mc_preset("piqa"), fixture("piqa/valid.jsonl"), labels), InputError);
}

TEST(ArcLoader, GoldIsTheChoiceLabelledAnswerKeyLettersOrDigits) {
  auto items = load_mapped(fixtures(), mc_preset("arc"), fixture("arc/mini.jsonl"), std::nullopt);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].key, "Mini_1");
  EXPECT_EQ(items[0].context, "Question: Which of these is a source of light?\nAnswer:");
  EXPECT_EQ(items[0].choices.size(), 4u);
  EXPECT_EQ(items[0].gold, 1);
  EXPECT_EQ(items[1].choices.size(), 3u);
  EXPECT_EQ(items[1].gold, 0);
}

TEST(ArcLoader, TheSharedArcChallengeFileLoads) {
  auto items = load_mapped(test::data_root(), mc_preset("arc"), kArcChallengeTest, std::nullopt);
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
  auto items = load_mapped(fixtures(), mc_preset("hellaswag"), fixture("hellaswag/mini.jsonl"), std::nullopt);
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

// ---- multiple-choice: any dataset described by a field mapping --------------------------------------------------

TEST(McMapping, TemplatesReadPathsFiltersAndEscapes) {
  const json r = json::parse(R"({"a": "x", "n": {"b": ["p", "Q rest"]}, "k": 7})");
  EXPECT_EQ(render_template("{a}-{n/b/0}-{k}", r), "x-p-7");
  EXPECT_EQ(render_template("{n/b/1|capitalize} {{lit}}", r), "Q rest {lit}");
  EXPECT_THROW(render_template("{missing}", r), std::invalid_argument);
  EXPECT_THROW(render_template("{n}", r), std::invalid_argument);  // an object is not text
  EXPECT_THROW(render_template("{a", r), std::invalid_argument);
  EXPECT_THROW(render_template("{a|upper}", r), std::invalid_argument);
  EXPECT_THROW(render_template("a}", r), std::invalid_argument);
}

json quiz_options() {
  return {{"file", "mc/quiz.jsonl"},
          {"sha256", sha256_file(fixtures() + "/mc/quiz.jsonl")},
          {"context", "Q: {q}\nA:"},
          {"choices_array", "options"},
          {"label", "answer"},
          {"key", "{uid}"}};
}

TEST(McMapping, ANewDatasetNeedsOnlyItsMapping) {
  const TaskInfo* t = TaskRegistry::find("multiple-choice");
  ASSERT_NE(t, nullptr);
  Params p(t->options.canonicalize(quiz_options(), "s.json", "/tasks/0/options"));
  t->validate(p, "s.json", "/tasks/0");
  auto items = load_mapped(fixtures(), mapping_of(p), mapping_files(p)[0], std::nullopt);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].key, "q1");
  EXPECT_EQ(items[0].context, "Q: Which is a fruit?\nA:");
  EXPECT_EQ(items[0].choices, (std::vector<std::string>{"stone", "apple", "chair"}));
  EXPECT_EQ(items[0].gold, 1);
  EXPECT_EQ(items[1].gold, 0);  // "0": an index written as digits
  EXPECT_EQ(items[2].gold, 2);
}

TEST(McMapping, BadRecordsNameTheFileLineAndField) {
  const McMapping m = mapping_of(Params(TaskRegistry::find("multiple-choice")->options.canonicalize(
      quiz_options(), "", "")));
  auto error_of = [&](const std::string& rel) -> std::string {
    try {
      load_mapped(fixtures(), m, fixture(rel), std::nullopt);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of("mc/quiz-bad-gold.jsonl").find("quiz-bad-gold.jsonl: /line/1/answer: expected a choice index 0..1, got 5"),
            std::string::npos) << error_of("mc/quiz-bad-gold.jsonl");
  EXPECT_NE(error_of("mc/quiz-dup-key.jsonl").find("/line/2: expected unique item keys, got \"q1\" twice"),
            std::string::npos) << error_of("mc/quiz-dup-key.jsonl");
  EXPECT_NE(error_of("mc/quiz-no-question.jsonl").find("/line/1: no field \"q\""), std::string::npos)
      << error_of("mc/quiz-no-question.jsonl");
}

TEST(McMapping, InvalidMappingsAreRejectedAtTheirOption) {
  const TaskInfo* t = TaskRegistry::find("multiple-choice");
  auto pointer_of_error = [&](json changes, std::vector<std::string> drop = {}) -> std::string {
    json o = quiz_options();
    for (auto it = changes.begin(); it != changes.end(); ++it) o[it.key()] = it.value();
    for (const auto& d : drop) o.erase(d);
    try {
      t->validate(Params(t->options.canonicalize(o, "s.json", "/tasks/0/options")), "s.json", "/tasks/0");
    } catch (const InputError& e) {
      return e.pointer();
    }
    return "accepted";
  };
  EXPECT_EQ(pointer_of_error(json::object()), "accepted");
  EXPECT_EQ(pointer_of_error({{"choices", {"{a}", "{b}"}}}), "/tasks/0/options/choices");  // both choice sources
  EXPECT_EQ(pointer_of_error(json::object(), {"choices_array"}), "/tasks/0/options/choices");  // neither
  EXPECT_EQ(pointer_of_error({{"context", "Q: {q"}}), "/tasks/0/options/context");
  EXPECT_EQ(pointer_of_error({{"key", "{uid|upper}"}}), "/tasks/0/options/key");
  EXPECT_EQ(pointer_of_error({{"labels_file", "mc/labels.lst"}}), "/tasks/0/options/label");  // label and file
  EXPECT_EQ(pointer_of_error({{"label_kind", "choice_label"}}), "/tasks/0/options/label_kind");
  EXPECT_EQ(pointer_of_error({{"sha256", "abc"}}), "/tasks/0/options/sha256");
}

// A preset is the generic task with fixed option values: given PIQA's mapping and files, `multiple-choice` scores
// exactly what `piqa` scores.
TEST(McTasks, TheGenericTaskWithPiqasMappingIsPiqa) {
  BENCH_REQUIRE_MODEL(path);
  const json subset = {{"limit", 3}, {"seed", 5}};
  test::TaskRun piqa = test::run_task("piqa", subset);
  json o = subset;
  o["file"] = kPiqaQuestions.relative_path;
  o["sha256"] = kPiqaQuestions.sha256;
  o["labels_file"] = kPiqaLabels.relative_path;
  o["labels_sha256"] = kPiqaLabels.sha256;
  o["context"] = "Question: {goal}\nAnswer:";
  o["choices"] = {"{sol1}", "{sol2}"};
  test::TaskRun generic = test::run_task("multiple-choice", o);
  ASSERT_EQ(generic.results.items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(generic.results.items[i].key, piqa.results.items[i].key);
    EXPECT_EQ(generic.results.items[i].detail, piqa.results.items[i].detail);
  }
  EXPECT_EQ(generic.metric("acc"), piqa.metric("acc"));
  // A different context template changes the scores: the mapping really drives the prompt.
  o["context"] = "{goal}";
  test::TaskRun other = test::run_task("multiple-choice", o);
  bool differs = false;
  for (size_t i = 0; i < 3; ++i) differs |= other.results.items[i].detail != piqa.results.items[i].detail;
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace bp::data
