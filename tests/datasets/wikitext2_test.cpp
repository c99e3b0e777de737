// wikitext2: the protocol's text handling and chunking, streaming == plain with the fp16 cache (the plumbing test
// of protocols.md), KL of fp16 against itself, and the reference cache being filled once.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/wikitext2/perplexity.h"
#include "harness/common/error.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

TEST(Wikitext2Protocol, TextChunksAndScoredPositions) {
  EXPECT_EQ(perplexity_text("a\nb\n"), "a\nb");
  EXPECT_EQ(perplexity_text("a\n\n"), "a\n");  // exactly one trailing newline goes
  EXPECT_EQ(perplexity_text("a"), "a");
  EXPECT_EQ(perplexity_chunks(1100, 512, 0), 2);
  EXPECT_EQ(perplexity_chunks(1100, 512, 1), 1);
  EXPECT_EQ(perplexity_chunks(511, 512, 0), 0);
  EXPECT_EQ(first_scored(512), 256);
  EXPECT_EQ(scored_per_chunk(512), 255);
  EXPECT_EQ(scored_per_chunk(2048), 1023);
}

TEST(Wikitext2Protocol, TokensHaveNoBosForSmolLm2AndChunksAreSlices) {
  BENCH_REQUIRE_MODEL(path);
  const rt::Tokenizer& tok = test::shared_model().tokenizer();
  ASSERT_FALSE(tok.add_bos());
  std::vector<int32_t> ids = perplexity_tokens(tok, " = Robert Boulter = \n");
  EXPECT_EQ(ids, tok.encode(" = Robert Boulter = \n", false, false));
  std::vector<int32_t> many(300);
  for (int i = 0; i < 300; ++i) many[i] = i;
  std::vector<int32_t> c1 = perplexity_chunk(many, tok, 1, 128);
  EXPECT_EQ(c1.front(), 128);
  EXPECT_EQ(c1.back(), 255);
  EXPECT_THROW(perplexity_chunk(many, tok, 2, 128), std::out_of_range);
}

double item_score(const test::TaskRun& r, const std::string& key) {
  for (const ItemValue& it : r.results.items)
    if (it.key == key) return it.score;
  return std::nan("");
}

// Streaming feeds the scored half through decode calls reading the cache; plain computes it in one prefill. With an
// F32 cache the two differ only by summation order; with fp16 also by the rounding of stored keys and values.
void expect_streaming_matches_plain(const test::TaskSetup& setup, double token_tol, double ppl_rel_tol) {
  const json base = {{"n_ctx", 128}, {"max_chunks", 2}, {"kl", false}};
  test::TaskRun plain = test::run_task("wikitext2", base, setup);
  json s1 = base, s16 = base;
  s1["mode"] = s16["mode"] = "streaming";
  s16["step"] = 16;
  test::TaskRun st1 = test::run_task("wikitext2", s1, setup), st16 = test::run_task("wikitext2", s16, setup);

  const double ppl = plain.metric("ppl", {{"mode", "plain"}});
  EXPECT_EQ(plain.metric("tokens_scored"), 2.0 * 63);
  EXPECT_EQ(plain.metric("chunks"), 2.0);
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 1000.0);
  EXPECT_GT(plain.metric("ppl_stderr"), 0.0);
  EXPECT_EQ(plain.results.items.front().key, "0/64");
  EXPECT_EQ(plain.results.items.back().key, "1/126");
  EXPECT_EQ(st16.metric("ppl", {{"step", 16}}), st16.metric("ppl"));
  for (const test::TaskRun* st : {&st1, &st16}) {
    EXPECT_NEAR(st->metric("ppl"), ppl, ppl_rel_tol * ppl);
    ASSERT_EQ(st->results.items.size(), plain.results.items.size());
    double worst = 0;
    for (const ItemValue& it : plain.results.items) worst = std::max(worst, std::abs(item_score(*st, it.key) - it.score));
    EXPECT_LT(worst, token_tol);
    std::printf("streaming vs plain: ppl %.6f vs %.6f, worst per-token NLL difference %.2e\n", st->metric("ppl"), ppl,
                worst);
  }
}

TEST(Wikitext2, StreamingWithFp16AgreesWithPlain) {
  BENCH_REQUIRE_MODEL(path);
  expect_streaming_matches_plain(test::TaskSetup{}, 1e-2, 1e-3);
}

TEST(Wikitext2, StreamingWithAnF32CacheAgreesWithPlainClosely) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskSetup setup;
  setup.session_factory = test::f32_session;
  expect_streaming_matches_plain(setup, 1e-3, 1e-4);
}

TEST(Wikitext2, KlOfFp16AgainstItselfIsZero) {
  BENCH_REQUIRE_MODEL(path);
  ReferenceCache cache;
  int reference_sessions = 0;
  test::TaskSetup setup;
  setup.is_reference = false;  // run the configuration and the reference separately
  setup.reference_cache = &cache;
  setup.reference_sessions = &reference_sessions;
  const json opts = {{"n_ctx", 64}, {"max_chunks", 2}, {"mode", "streaming"}, {"step", 8}};
  test::TaskRun r = test::run_task("wikitext2", opts, setup);
  EXPECT_EQ(r.metric("kl_mean"), 0.0);
  EXPECT_EQ(r.metric("kl_p99"), 0.0);
  EXPECT_EQ(r.metric("kl_max"), 0.0);
  EXPECT_EQ(r.metric("top1_agree"), 1.0);
  EXPECT_GE(r.metric("kl_ref_tail_mass"), 0.0);
  EXPECT_LT(r.metric("kl_ref_tail_mass"), 0.5);
  for (const ItemValue& it : r.results.items) EXPECT_EQ(it.detail["kl"], 0.0);
  EXPECT_EQ(reference_sessions, 1 + 2);  // one to identify the reference model, one per chunk

  // The reference was cached per chunk: a second configuration only identifies the reference model.
  reference_sessions = 0;
  test::TaskRun r2 = test::run_task("wikitext2", opts, setup);
  EXPECT_EQ(r2.metric("kl_mean"), 0.0);
  EXPECT_EQ(reference_sessions, 1);
}

TEST(Wikitext2, TheReferenceConfigurationRecordsItsOwnRows) {
  BENCH_REQUIRE_MODEL(path);
  ReferenceCache cache;
  int reference_sessions = 0;
  test::TaskSetup setup;  // is_reference: the reference itself
  setup.reference_cache = &cache;
  setup.reference_sessions = &reference_sessions;
  const json opts = {{"n_ctx", 64}, {"max_chunks", 1}};
  test::TaskRun ref = test::run_task("wikitext2", opts, setup);
  EXPECT_EQ(reference_sessions, 1);  // no separate reference pass
  EXPECT_EQ(ref.metric("kl_mean"), 0.0);
  EXPECT_EQ(ref.metric("top1_agree"), 1.0);
  // A different configuration now finds the rows in the cache: its KL against them is exactly zero too, as its
  // logits are the reference's.
  setup.is_reference = false;
  test::TaskRun other = test::run_task("wikitext2", opts, setup);
  EXPECT_EQ(other.metric("kl_mean"), 0.0);
  EXPECT_DOUBLE_EQ(other.metric("ppl"), ref.metric("ppl"));
}

TEST(Wikitext2, PlainModeRejectsAStep) {
  const TaskInfo* t = TaskRegistry::find("wikitext2");
  ASSERT_NE(t, nullptr);
  Params p(t->options.canonicalize({{"step", 4}}, "s.json", "/tasks/0/options"));
  try {
    t->validate(p, "s.json", "/tasks/0");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/tasks/0/options/step");
  }
}

// text-ppl is the same protocol on a file the suite names: given WikiText-2's test file, it reproduces wikitext2's
// numbers exactly (one implementation); a second, different text gives different numbers, so the file really is
// the option's.
TEST(TextPpl, OnWikiText2sFileItIsWikitext2) {
  BENCH_REQUIRE_MODEL(path);
  const json opts = {{"n_ctx", 64}, {"max_chunks", 2}, {"kl", false}};
  test::TaskRun wt = test::run_task("wikitext2", opts, {});
  json same = opts;
  same["file"] = kWikiText2Test.relative_path;
  same["sha256"] = kWikiText2Test.sha256;
  test::TaskRun tp = test::run_task("text-ppl", same, {});
  EXPECT_EQ(tp.metric("ppl"), wt.metric("ppl"));
  ASSERT_EQ(tp.results.items.size(), wt.results.items.size());
  for (size_t i = 0; i < tp.results.items.size(); ++i) EXPECT_EQ(tp.results.items[i].score, wt.results.items[i].score);

  json other = opts;  // the validation split: a different text
  other["file"] = "wikitext-2-raw/wiki.valid.raw";
  other["sha256"] = "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7";
  test::TaskRun tv = test::run_task("text-ppl", other, {});
  EXPECT_NE(tv.metric("ppl"), wt.metric("ppl"));
}

TEST(TextPpl, TheFilesHashIsRequired) {
  const TaskInfo* t = TaskRegistry::find("text-ppl");
  ASSERT_NE(t, nullptr);
  Params p(t->options.canonicalize({{"file", "my/corpus.txt"}}, "s.json", "/tasks/0/options"));
  try {
    t->validate(p, "s.json", "/tasks/0");
    FAIL() << "a text file without its sha256 was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/tasks/0/options/sha256");
  }
  EXPECT_EQ(t->data_files(p).at(0).relative_path, "my/corpus.txt");
}

}  // namespace
}  // namespace bp::data
