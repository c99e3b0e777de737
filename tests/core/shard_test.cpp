// The shard partition (harness/core/shard.h): disjoint, covering, balanced, model instances kept together,
// deterministic; the static cost estimate; parsing of --shard.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "harness/common/error.h"
#include "harness/core/shard.h"

namespace bp {
namespace {

Suite parse(const std::string& text) { return parse_suite(text, "s.json", "/suites"); }

// Every index of the plan in exactly one part.
void expect_disjoint_and_covering(const std::vector<ShardPart>& parts, size_t n) {
  std::vector<int> seen(n, 0);
  for (const auto& p : parts)
    for (size_t i : p.members) {
      ASSERT_LT(i, n);
      ++seen[i];
    }
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "plan position " << i;
}

// Which parts hold configurations of each model instance.
std::map<std::string, std::set<size_t>> instance_parts(const std::vector<Configuration>& order,
                                                       const std::vector<ShardPart>& parts) {
  std::map<std::string, std::set<size_t>> out;
  for (size_t p = 0; p < parts.size(); ++p)
    for (size_t i : parts[p].members) out[model_instance_key(order[i])].insert(p);
  return out;
}

// Cost = the test-echo option n, so tests choose the weights.
double cost_n(const Configuration& c) { return (double)c.task->options.get_int("n"); }

TEST(Shard, ParsesIOfN) {
  EXPECT_EQ(parse_shard_spec("1/1").index, 1);
  ShardSpec s = parse_shard_spec("3/4");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 4);
  for (const char* bad : {"", "0/4", "5/4", "1/0", "a/b", "1", "1/", "/2", "-1/2", "1/2/3", " 1/2", "1/200000"}) {
    try {
      parse_shard_spec(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const InputError& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with("--shard: expected i/N with integers 1 <= i <= N")) << e.what();
    }
  }
}

TEST(Shard, KeepsModelInstancesTogetherAndBalancesWholeGroups) {
  // 3 models x (fp16 and test-kv on the base weights, 2 weight variants): 9 model instances, 3 base ones (4
  // configurations, cost 6) and 6 weight-transformed ones (2 configurations, cost 3). Total 36.
  Suite s = parse(R"({"name": "t", "model": ["/a.gguf", "/b.gguf", "/c.gguf"],
                      "tasks": [{"task": "test-echo", "sweep": {"n": [1, 2]}}],
                      "methods": [{"method": "fp16"}, {"method": "test-kv"},
                                  {"method": "test-weight", "sweep": {"group": [32, 64]}}]})");
  auto order = order_for_loading(expand_plan(s));
  ASSERT_EQ(order.size(), 24u);
  for (int count : {1, 2, 3, 4}) {
    SCOPED_TRACE(count);
    auto parts = partition_plan(order, count, cost_n);
    ASSERT_EQ(parts.size(), (size_t)count);
    expect_disjoint_and_covering(parts, order.size());
    // Groups are never larger than a share here: no instance is split.
    for (const auto& [key, where] : instance_parts(order, parts)) EXPECT_EQ(where.size(), 1u) << key;
    double lo = 1e300, hi = 0;
    for (const auto& p : parts) {
      lo = std::min(lo, p.cost);
      hi = std::max(hi, p.cost);
      EXPECT_TRUE(std::is_sorted(p.members.begin(), p.members.end()));
    }
    // Largest piece first to the least-loaded part: parts differ by at most the largest group.
    EXPECT_LE(hi - lo, 6.0 + 1e-9);
  }
  // 3 shards: one base group and two weight groups each, exactly balanced.
  auto three = partition_plan(order, 3, cost_n);
  for (const auto& p : three) {
    EXPECT_EQ(p.cost, 12.0);
    EXPECT_EQ(p.instance_groups, 3);
  }
}

TEST(Shard, SplitsAGroupLargerThanAShareIntoConsecutivePieces) {
  // One model instance only (as suites/kv.json): it must be cut, into consecutive runs of the execution order.
  Suite s = parse(R"({"name": "t", "model": "/a.gguf",
                      "tasks": [{"task": "test-echo", "sweep": {"n": [1, 2, 3, 4, 5, 6, 7, 8]}}],
                      "methods": [{"method": "fp16"}, {"method": "test-kv"}]})");
  auto order = order_for_loading(expand_plan(s));
  auto parts = partition_plan(order, 4, cost_n);  // total 72: 18 per shard
  expect_disjoint_and_covering(parts, order.size());
  double total = 0;
  for (const auto& p : parts) {
    total += p.cost;
    EXPECT_EQ(p.instance_groups, 1);
    ASSERT_FALSE(p.members.empty());
    EXPECT_EQ(p.members.back() - p.members.front() + 1, p.members.size()) << "a piece is consecutive";
  }
  EXPECT_EQ(total, 72.0);
  for (const auto& p : parts) EXPECT_NEAR(p.cost, 18.0, 8.0) << "within one configuration of the share";
}

TEST(Shard, IsDeterministicAndIgnoresBadCosts) {
  Suite s = parse(R"({"name": "t", "model": ["/a.gguf", "/b.gguf"],
                      "tasks": [{"task": "test-echo", "sweep": {"n": [1, 2, 3]}}],
                      "methods": [{"method": "fp16"}, {"method": "test-kv", "sweep": {"bits": [2, 4]}}]})");
  auto order = order_for_loading(expand_plan(s));
  auto a = partition_plan(order, 3, cost_n);
  auto b = partition_plan(order, 3, cost_n);
  for (size_t p = 0; p < 3; ++p) EXPECT_EQ(a[p].members, b[p].members);
  // NaN, zero and negative estimates do not break the partition.
  auto odd = partition_plan(order, 2, [](const Configuration& c) {
    long long n = c.task->options.get_int("n");
    return n == 1 ? std::nan("") : n == 2 ? 0.0 : -5.0;
  });
  expect_disjoint_and_covering(odd, order.size());
  // More shards than configurations: the extra parts are empty, the others still cover the plan.
  auto many = partition_plan(order, 40, cost_n);
  expect_disjoint_and_covering(many, order.size());
  // Each of the 2 groups (cost 18, far above a 40th of 36) is cut into its 9 configurations; the rest is empty.
  const auto filled = std::count_if(many.begin(), many.end(), [](const ShardPart& p) { return !p.members.empty(); });
  EXPECT_EQ(filled, 18);
  // As many shards as configurations: one each.
  auto one_each = partition_plan(order, (int)order.size(), cost_n);
  for (const auto& p : one_each) EXPECT_EQ(p.members.size(), 1u);
}

TEST(Shard, StaticCostFollowsTheTaskSize) {
  Suite s = parse(R"({"name": "t", "model": "/a.gguf",
                      "tasks": [{"task": "wikitext2", "options": {"max_chunks": 2}, "sweep": {"n_ctx": [512, 2048]}},
                                {"task": "piqa", "sweep": {"limit": [10, 100]}},
                                {"task": "passkey", "options": {"items": 1}, "sweep": {"context": [1024, 4096]}}],
                      "latency": {"contexts": [512], "repetitions": 2},
                      "methods": [{"method": "fp16"}]})");
  auto plan = expand_plan(s);
  ASSERT_EQ(plan.size(), 7u);
  std::vector<double> c;
  for (const auto& p : plan) c.push_back(static_cost(p));
  EXPECT_GT(c[1], 4 * c[0]) << "4x the tokens, and dearer attention";
  EXPECT_NEAR(c[3], 10 * c[2], 1e-6) << "cost proportional to the items";
  EXPECT_GT(c[5], 4 * c[4]);
  for (double v : c) EXPECT_GT(v, 0);
}

}  // namespace
}  // namespace bp
