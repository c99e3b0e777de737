// The shared scoring pieces of datasets/common on tiny hand-made inputs with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "datasets/common/generation.h"
#include "datasets/common/kl.h"
#include "datasets/common/logprob.h"
#include "datasets/common/multiple_choice.h"
#include "datasets/common/rng.h"

namespace bp::data {
namespace {

TEST(LogProb, LogSumExpAndNllMatchHandValues) {
  // logits ln1, ln2, ln3: softmax = 1/6, 2/6, 3/6.
  const float row[3] = {0.0f, (float)std::log(2.0), (float)std::log(3.0)};
  EXPECT_NEAR(logsumexp(row, 3), std::log(6.0), 1e-7);
  EXPECT_NEAR(token_nll(row, 3, 0), std::log(6.0), 1e-7);
  EXPECT_NEAR(token_nll(row, 3, 2), std::log(2.0), 1e-7);
  // Large logits: the max is subtracted first, so nothing overflows.
  const float big[2] = {1000.0f, 1000.0f};
  EXPECT_NEAR(logsumexp(big, 2), 1000.0 + std::log(2.0), 1e-9);
  EXPECT_EQ(argmax(row, 3), 2);
  const float tie[3] = {1.0f, 5.0f, 5.0f};
  EXPECT_EQ(argmax(tie, 3), 1);  // first of equal maxima
}

TEST(LogProb, PerplexityAndErrorAsLlamaPerplexity) {
  NllStats s;
  EXPECT_EQ(s.ppl(), 1.0);
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(v);
  EXPECT_EQ(s.count(), 4);
  EXPECT_DOUBLE_EQ(s.mean(), 2.5);
  EXPECT_NEAR(s.ppl(), std::exp(2.5), 1e-12);
  // E[nll^2] = 30/4 = 7.5, E[nll]^2 = 6.25 -> PPL * sqrt(1.25 / 3).
  EXPECT_NEAR(s.ppl_stderr(), std::exp(2.5) * std::sqrt(1.25 / 3.0), 1e-12);
  NllStats one;
  one.add(0.7);
  EXPECT_EQ(one.ppl_stderr(), 0.0);
}

TEST(LogProb, ScoringHalfAChunkByHand) {
  // A 6-token "chunk" over a 3-token vocabulary: positions 3 and 4 are scored (n_ctx/2 .. n_ctx-2), each predicting
  // the next token. Uniform logits at position 3 -> NLL ln 3; position 4 puts e^2 : 1 : 1 on tokens (0, 1, 2).
  const int V = 3;
  const std::vector<int> chunk = {0, 1, 2, 1, 0, 2};
  std::vector<float> logits(6 * V, 0.0f);
  logits[4 * V + 0] = 2.0f;
  NllStats s;
  for (int j = 6 / 2; j <= 6 - 2; ++j) s.add(token_nll(&logits[j * V], V, chunk[j + 1]));
  const double nll3 = std::log(3.0), nll4 = std::log(std::exp(2.0) + 2.0);
  EXPECT_EQ(s.count(), 2);
  EXPECT_NEAR(s.mean(), (nll3 + nll4) / 2, 1e-7);
  EXPECT_NEAR(s.ppl(), std::exp((nll3 + nll4) / 2), 1e-6);
}

std::vector<float> record_of(const std::vector<float>& logits, int top_k, int samples = 0, uint64_t seed = 1) {
  std::vector<float> r;
  append_reference_record(logits.data(), (int)logits.size(), top_k, samples, seed, r);
  return r;
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double v : p) l.push_back((float)std::log(v));
  return l;
}

double exact_kl(const std::vector<double>& p, const std::vector<double>& q) {
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) kl += p[i] * std::log(p[i] / q[i]);
  return kl;
}

TEST(Kl, IdenticalDistributionsGiveExactlyZero) {
  const std::vector<float> l = {0.3f, -1.2f, 2.5f, 0.0f, 1.1f, -0.4f};
  std::vector<uint8_t> mark;
  for (int k : {1, 2, 6})
    for (int s : {0, 3}) {
      std::vector<float> rec = record_of(l, k, s);
      ASSERT_EQ(rec.size(), reference_record_floats(k, k == 6 ? 0 : s));
      KlPoint p = kl_from_record(rec.data(), l.data(), (int)l.size(), mark);
      EXPECT_EQ(p.kl, 0.0) << "k=" << k << " s=" << s;
      EXPECT_TRUE(p.same_top1);
    }
  EXPECT_EQ(mark, std::vector<uint8_t>(l.size(), 0));  // scratch left clean
}

TEST(Kl, FullRecordGivesTheExactKl) {
  // P = (1/2, 1/4, 1/4), Q = (1/4, 1/4, 1/2): KL(P||Q) = 1/2 ln 2 + 0 + 1/4 ln(1/2) = 1/4 ln 2.
  const std::vector<float> p = log_probs({0.5, 0.25, 0.25}), q = log_probs({0.25, 0.25, 0.5});
  std::vector<uint8_t> mark;
  std::vector<float> rec = record_of(p, 3, 16);
  ASSERT_EQ(rec[1], 0.0f);  // nothing left to sample
  KlPoint r = kl_from_record(rec.data(), q.data(), 3, mark);
  EXPECT_NEAR(r.kl, 0.25 * std::log(2.0), 1e-6);
  EXPECT_FALSE(r.same_top1);
  EXPECT_NEAR(r.ref_tail, 0.0, 1e-12);
}

TEST(Kl, TopKRecordWithoutSamplesGivesTheCoarsenedKl) {
  // P = (0.5, 0.3, 0.2), Q = (0.4, 0.1, 0.5); with k = 1 the outcomes are {0} and {1, 2}:
  // 0.5 ln(0.5/0.4) + 0.5 ln(0.5/0.6), which is below the exact KL.
  const std::vector<double> P = {0.5, 0.3, 0.2}, Q = {0.4, 0.1, 0.5};
  const std::vector<float> p = log_probs(P), q = log_probs(Q);
  std::vector<uint8_t> mark;
  std::vector<float> rec = record_of(p, 1);
  ASSERT_EQ(rec[0], 1.0f);
  ASSERT_EQ(rec[3], 0.0f);  // the argmax id first
  KlPoint r = kl_from_record(rec.data(), q.data(), 3, mark);
  const double coarse = 0.5 * std::log(0.5 / 0.4) + 0.5 * std::log(0.5 / 0.6);
  EXPECT_NEAR(r.kl, coarse, 1e-6);
  EXPECT_LT(r.kl, exact_kl(P, Q));
  EXPECT_NEAR(r.ref_tail, 0.5, 1e-6);
  EXPECT_FALSE(r.same_top1);  // Q's argmax is token 2
}

TEST(Kl, TailSamplesEstimateTheTailTermWithoutBias) {
  // One tail token: the sampled estimate is exact.
  const std::vector<double> P2 = {0.7, 0.3}, Q2 = {0.5, 0.5};
  std::vector<uint8_t> mark;
  std::vector<float> rec2 = record_of(log_probs(P2), 1, 4);
  EXPECT_NEAR(kl_from_record(rec2.data(), log_probs(Q2).data(), 2, mark).kl, exact_kl(P2, Q2), 1e-6);
  // A long tail: averaged over seeds, the estimate matches the exact KL (the coarsened one falls short).
  std::vector<double> P, Q;
  for (int i = 0; i < 200; ++i) {
    P.push_back(std::exp(-0.03 * i));
    Q.push_back(std::exp(-0.03 * i + 0.4 * std::sin(0.7 * i)));
  }
  auto normalise = [](std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    for (double& x : v) x /= s;
  };
  normalise(P);
  normalise(Q);
  const std::vector<float> p = log_probs(P), q = log_probs(Q);
  double mean = 0;
  const int seeds = 200;
  for (int seed = 0; seed < seeds; ++seed) {
    std::vector<float> rec = record_of(p, 10, 16, (uint64_t)seed);
    mean += kl_from_record(rec.data(), q.data(), (int)P.size(), mark).kl / seeds;
  }
  const double exact = exact_kl(P, Q);
  EXPECT_NEAR(mean, exact, 0.02 * exact);
  std::vector<float> coarse = record_of(p, 10, 0);
  EXPECT_LT(kl_from_record(coarse.data(), q.data(), (int)P.size(), mark).kl, 0.9 * exact);
}

TEST(Rng, UniformDrawsStayInRangeAndCoverIt) {
  std::mt19937_64 g(7);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = uniform_below(g, 10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
    int64_t w = uniform_between(g, 10000, 99999);
    ASSERT_GE(w, 10000);
    ASSERT_LE(w, 99999);
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(uniform_below(g, 1), 0u);
}

TEST(Rng, SubsetsAreDeterministicNestedAndSeedDependent) {
  EXPECT_EQ(choose_subset(5, 0, 1), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(choose_subset(5, 9, 1), (std::vector<size_t>{0, 1, 2, 3, 4}));
  const auto a = choose_subset(1000, 50, 42), b = choose_subset(1000, 50, 42), c = choose_subset(1000, 50, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 50u);
  const auto small = choose_subset(1000, 10, 42);
  for (size_t i : small) EXPECT_TRUE(std::binary_search(a.begin(), a.end(), i)) << i;
  // The engine's sequence is fixed by the standard ([rand.predef]: the 10000th output of a default-constructed
  // mt19937_64), and the draws and shuffle are ours, so subsets are the same on every platform.
  std::mt19937_64 g;
  g.discard(9999);
  EXPECT_EQ(g(), 9981545732273789042ULL);
  EXPECT_EQ(mix_seed(1, 2, 3), mix_seed(mix_seed(1, 2), 3));
  EXPECT_NE(mix_seed(1, 2), mix_seed(1, 3));
}

TEST(Answers, NumbersAreExtractedAndNormalised) {
  EXPECT_EQ(first_integer(" <34884> and 12"), "34884");
  EXPECT_EQ(first_integer("it is -5"), "-5");
  EXPECT_EQ(first_integer("none"), std::nullopt);
  EXPECT_EQ(normalize_number("1,234"), "1234");
  EXPECT_EQ(normalize_number("12.50"), "12.5");
  EXPECT_EQ(normalize_number("18.0"), "18");
  EXPECT_EQ(normalize_number("007"), "7");
  EXPECT_EQ(normalize_number("$5."), "5");
  EXPECT_EQ(normalize_number("-0"), "0");
  EXPECT_EQ(normalize_number("1.2.3"), std::nullopt);
  EXPECT_EQ(normalize_number("abc"), std::nullopt);
  EXPECT_EQ(last_number("5 + 4 = 9. So 1,200 apples."), "1200");
  EXPECT_EQ(last_number("down to -3."), "-3");
  EXPECT_EQ(last_number("no digits"), std::nullopt);
}

TEST(MultipleChoiceScoring, PicksAndErrorsMatchTheHarness) {
  EXPECT_EQ(argmax_first({-3.0, -1.0, -1.0}), 1);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);          // é is two bytes, one character
  EXPECT_EQ(utf8_length("\xE2\x82\xAC" "5"), 2u);     // € (three bytes) + 5
  EXPECT_NEAR(accuracy_stderr(0.5, 101), std::sqrt(0.25 / 100), 1e-15);
  EXPECT_EQ(accuracy_stderr(1.0, 1), 0.0);
  // acc vs acc_norm: a long choice with the higher total log-prob but lower per-character log-prob.
  const std::vector<double> lls = {-6.0, -8.0};
  const std::vector<size_t> chars = {3, 20};
  std::vector<double> norm;
  for (size_t i = 0; i < lls.size(); ++i) norm.push_back(lls[i] / (double)chars[i]);
  EXPECT_EQ(argmax_first(lls), 0);
  EXPECT_EQ(argmax_first(norm), 1);
}

}  // namespace
}  // namespace bp::data
