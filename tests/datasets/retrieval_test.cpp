// Passkey and lines: generators deterministic per seed, the fact placed at the requested depth, prompts fitted to
// the token budget, answer checks, and real-model smokes of both tasks.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "datasets/lines/lines.h"
#include "datasets/passkey/passkey.h"
#include "harness/common/error.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

TEST(Passkey, SameSeedSamePromptDifferentSeedDifferentKey) {
  RetrievalPrompt a = passkey_builder(11, 0.5)(40), b = passkey_builder(11, 0.5)(40), c = passkey_builder(12, 0.5)(40);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.answer, b.answer);
  EXPECT_NE(a.answer, c.answer);
  EXPECT_EQ(a.answer.size(), 5u);
  EXPECT_NE(a.text.find("The pass key is " + a.answer + ". Remember it. " + a.answer + " is the pass key."),
            std::string::npos);
  EXPECT_TRUE(a.text.ends_with("\nWhat is the pass key? The pass key is"));
  EXPECT_TRUE(a.text.starts_with("There is an important info hidden inside a lot of irrelevant text."));
}

TEST(Passkey, DepthPlacesTheNeedleAmongTheFiller) {
  auto at = [](double depth) {
    RetrievalPrompt p = passkey_builder(3, depth)(100);
    return std::make_pair(p.detail["sentences_before"].get<int>(), p.text.find("The pass key is"));
  };
  EXPECT_EQ(at(0.0).first, 0);
  EXPECT_EQ(at(0.25).first, 25);
  EXPECT_EQ(at(1.0).first, 100);
  EXPECT_LT(at(0.0).second, at(0.5).second);
  EXPECT_LT(at(0.5).second, at(1.0).second);
  // Depth 0: the needle follows the instruction directly; depth 1: it precedes the question directly.
  RetrievalPrompt first = passkey_builder(3, 0.0)(10), last = passkey_builder(3, 1.0)(10);
  EXPECT_NE(first.text.find("there.\n\nThe pass key is"), std::string::npos);
  EXPECT_NE(last.text.find("is the pass key.\n\nWhat is the pass key?"), std::string::npos);
}

TEST(Passkey, AnswerCheck) {
  EXPECT_TRUE(passkey_correct(" 47281. Remember it.", "47281"));
  EXPECT_FALSE(passkey_correct(" 4728", "47281"));
}

TEST(Lines, KeysUniqueAnswerIsTheQueriedLineAndPromptsExtend) {
  RetrievalPrompt a = lines_builder(5, 0.5, true)(30), b = lines_builder(5, 0.5, true)(30);
  RetrievalPrompt c = lines_builder(6, 0.5, true)(30), longer = lines_builder(5, 0.5, true)(60);
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text, c.text);
  const std::string key = a.detail["key"];
  EXPECT_EQ(a.detail["line"], 15);  // round(0.5 * 29)
  EXPECT_NE(a.text.find("line " + key + ": REGISTER_CONTENT is <" + a.answer + ">\n"), std::string::npos);
  EXPECT_TRUE(a.text.ends_with("in line " + key + "? I need the number.\nline " + key + ": REGISTER_CONTENT is <"));
  // The 60-line prompt starts with the same 30 lines.
  const std::string body = a.text.substr(0, a.text.find("\nNow the record is over."));
  EXPECT_TRUE(longer.text.starts_with(body));
  // Keys are unique within a prompt (the record lines end before the question).
  std::set<std::string> keys;
  const std::string record = longer.text.substr(0, longer.text.find("\nNow the record is over."));
  size_t pos = 0, n = 0;
  while ((pos = record.find("\nline ", pos)) != std::string::npos) {
    pos += 6;
    keys.insert(record.substr(pos, record.find(':', pos) - pos));
    ++n;
  }
  EXPECT_EQ(n, 60u);
  EXPECT_EQ(keys.size(), 60u);
  RetrievalPrompt bare = lines_builder(5, 0.5, false)(30);
  EXPECT_TRUE(bare.text.ends_with("? I need the number."));
  EXPECT_EQ(lines_builder(5, 0.0, true)(30).detail["line"], 0);
  EXPECT_EQ(lines_builder(5, 1.0, true)(30).detail["line"], 29);
}

TEST(Lines, PseudoWordsAndAnswerCheck) {
  std::mt19937_64 g(1);
  for (int i = 0; i < 50; ++i) {
    std::string w = pseudo_word(g);
    EXPECT_TRUE(w.size() == 4 || w.size() == 6) << w;
  }
  EXPECT_TRUE(lines_correct(" <34884>", "34884"));
  EXPECT_FALSE(lines_correct(" <3488> or 34884", "34884"));
  EXPECT_FALSE(lines_correct(" I don't know", "34884"));
}

TEST(Retrieval, PromptsFillTheBudgetWithoutExceedingIt) {
  BENCH_REQUIRE_MODEL(path);
  const rt::Tokenizer& tok = test::shared_model().tokenizer();
  for (int64_t budget : {300, 1000}) {
    PromptBuilder b = passkey_builder(9, 0.5);
    FittedPrompt f = fit_to_tokens(tok, b, budget);
    EXPECT_LE((int64_t)f.ids.size(), budget);
    EXPECT_GT((int64_t)tok.encode(b(f.units + 1).text, false, false).size(), budget);
    EXPECT_GT((int64_t)f.ids.size(), budget - 10);  // sentences are ~5 tokens
    PromptBuilder l = lines_builder(9, 0.5, true);
    FittedPrompt g = fit_to_tokens(tok, l, budget);
    EXPECT_LE((int64_t)g.ids.size(), budget);
    EXPECT_GT((int64_t)tok.encode(l(g.units + 1).text, false, false).size(), budget);
  }
  EXPECT_THROW(fit_to_tokens(tok, passkey_builder(9, 0.5), 20), InputError);
}

TEST(Retrieval, PasskeyAndLinesSmokeWithTheDefaultModel) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskRun pk = test::run_task("passkey", {{"context", 256}, {"depths_percent", {0, 100}}, {"items", 1}});
  ASSERT_EQ(pk.results.items.size(), 2u);
  EXPECT_EQ(pk.metric("items", {{"context", 256}}), 2.0);
  const double per0 = pk.metric("accuracy", {{"context", 256}, {"depth_percent", 0}});
  const double per100 = pk.metric("accuracy", {{"context", 256}, {"depth_percent", 100}});
  double overall = std::nan("");
  for (const MetricValue& v : pk.results.metrics)
    if (v.name == "accuracy" && !v.labels.contains("depth_percent")) overall = v.value;
  EXPECT_DOUBLE_EQ(overall, (per0 + per100) / 2);
  for (const ItemValue& it : pk.results.items) {
    EXPECT_LE(it.detail["prompt_tokens"].get<int>(), 256);
    EXPECT_EQ(it.score, passkey_correct(it.detail["generation"], it.detail["answer"]) ? 1.0 : 0.0);
    EXPECT_TRUE(it.detail.contains("seed"));
  }
  test::TaskRun again = test::run_task("passkey", {{"context", 256}, {"depths_percent", {0, 100}}, {"items", 1}});
  EXPECT_EQ(again.results.items[0].detail, pk.results.items[0].detail);

  test::TaskRun ln = test::run_task("lines", {{"context", 320}, {"depths_percent", {50}}, {"items", 1}});
  ASSERT_EQ(ln.results.items.size(), 1u);
  const ItemValue& it = ln.results.items[0];
  EXPECT_EQ(it.key, "320/50/0");
  EXPECT_EQ(it.score, lines_correct(it.detail["generation"], it.detail["answer"]) ? 1.0 : 0.0);
}

TEST(Retrieval, RepeatedDepthsAreRejected) {
  const TaskInfo* t = TaskRegistry::find("passkey");
  ASSERT_NE(t, nullptr);
  Params p(t->options.canonicalize({{"depths_percent", {50, 50}}}, "s.json", "/tasks/0/options"));
  EXPECT_THROW(t->validate(p, "s.json", "/tasks/0"), InputError);
}

}  // namespace
}  // namespace bp::data
