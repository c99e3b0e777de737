// Method stacks in suites: expansion (cartesian product of the members' sweeps), role order, labels, the canonical
// stack the identity hashes, the reference flag, the plan's model instances, and every invalid stack — the ones
// that need test-only methods from tests/data/bad-suites/test-methods/ with their exact messages (the others are
// in the parent folder and run through the real CLI).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/common/error.h"
#include "harness/core/plan.h"
#include "harness/core/suite.h"
#include "tests/common/test_env.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

Suite parse(const std::string& methods) {
  return parse_suite(R"({"name": "t", "model": "/m/model.gguf", "tasks": [{"task": "test-echo"}], "methods": )" +
                         methods + "}",
                     "s.json", "/suites");
}

std::string error_of(const std::string& methods) {
  try {
    parse(methods);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Stacks, MembersSweepIntoTheCartesianProductInRoleOrder) {
  // Written kv first, weights second: stored in role order (weights, tokens, kv-cache) whatever the suite's order.
  Suite s = parse(R"([{"stack": [{"method": "test-kv", "sweep": {"bits": [8, 4]}},
                                 {"method": "test-weight", "sweep": {"group": [64, 128]}}]}])");
  ASSERT_EQ(s.methods.size(), 4u);
  // The first member as written varies slowest.
  EXPECT_EQ(s.methods[0].label(), "test-weight(group=64) + test-kv(bits=8)");
  EXPECT_EQ(s.methods[1].label(), "test-weight(group=128) + test-kv(bits=8)");
  EXPECT_EQ(s.methods[2].label(), "test-weight(group=64) + test-kv(bits=4)");
  EXPECT_EQ(s.methods[3].label(), "test-weight(group=128) + test-kv(bits=4)");
  for (const auto& v : s.methods) {
    ASSERT_EQ(v.members.size(), 2u);
    EXPECT_EQ(v.members[0].info->name, "test-weight");
    EXPECT_EQ(v.members[0].pointer, "/methods/0/stack/1");
    EXPECT_EQ(v.members[1].pointer, "/methods/0/stack/0");
    EXPECT_EQ(v.names(), "test-weight+test-kv");
    EXPECT_EQ(v.member_for(Role::Weights), &v.members[0]);
    EXPECT_EQ(v.member_for(Role::KvCache), &v.members[1]);
    EXPECT_EQ(v.member_for(Role::Tokens), nullptr);
    EXPECT_FALSE(v.is_reference());
  }
  // The canonical stack carries every parameter of every member, defaults included.
  EXPECT_EQ(s.methods[0].canonical(),
            R"([{"method":"test-weight","params":{"group":64}},)"
            R"({"method":"test-kv","params":{"bits":8,"mode":"a","ratio":0.5,"symmetric":true}}])");
}

TEST(Stacks, APlainEntryIsAStackOfOne) {
  Suite s = parse(R"([{"method": "fp16"}, {"method": "test-kv", "params": {"bits": 4}}])");
  ASSERT_EQ(s.methods.size(), 2u);
  EXPECT_EQ(s.methods[0].members.size(), 1u);
  EXPECT_EQ(s.methods[0].label(), "fp16");
  EXPECT_TRUE(s.methods[0].is_reference());
  EXPECT_EQ(s.methods[1].label(), "test-kv(bits=4)");
  EXPECT_FALSE(s.methods[1].is_reference());
  EXPECT_EQ(s.methods[0].members[0].pointer, "/methods/0");
}

TEST(Stacks, OnlyFp16AloneWithItsDefaultsIsTheReference) {
  Suite s = parse(R"([{"stack": [{"method": "fp16"}]}, {"stack": [{"method": "test-weight"}, {"method": "fp16"}]},
                      {"stack": [{"method": "test-weight"}]}])");
  ASSERT_EQ(s.methods.size(), 3u);
  EXPECT_TRUE(s.methods[0].is_reference());   // {"stack": [fp16]} is the same configuration as {"method": "fp16"}
  EXPECT_FALSE(s.methods[1].is_reference());  // fp16 cache on transformed weights
  EXPECT_FALSE(s.methods[2].is_reference());  // no KV member: fp16 cache too, but on transformed weights
}

TEST(Stacks, AStackOfOneIsTheSameConfigurationAsAPlainEntry) {
  EXPECT_EQ(error_of(R"([{"method": "test-kv"}, {"stack": [{"method": "test-kv"}]}])"),
            "s.json: /methods/1: duplicate configuration: method \"test-kv\" with parameters "
            "{\"bits\":8,\"mode\":\"a\",\"ratio\":0.5,\"symmetric\":true} is already given by /methods/0; expected "
            "distinct entries");
  // The same members written in another order are the same stack.
  EXPECT_EQ(error_of(R"([{"stack": [{"method": "test-kv"}, {"method": "test-weight"}]},
                         {"stack": [{"method": "test-weight"}, {"method": "test-kv"}]}])"),
            "s.json: /methods/1: duplicate configuration: stack "
            "[{\"method\":\"test-weight\",\"params\":{\"group\":64}},{\"method\":\"test-kv\",\"params\":{\"bits\":8,"
            "\"mode\":\"a\",\"ratio\":0.5,\"symmetric\":true}}] is already given by /methods/0; expected distinct entries");
}

TEST(Stacks, MemberValidationPointsIntoTheMember) {
  EXPECT_EQ(error_of(R"([{"stack": [{"method": "test-weight"}, {"method": "test-kv", "params": {"bits": 3}}]}])"),
            "s.json: /methods/0/stack/1/params/bits: expected an integer, one of [2, 4, 8], got 3");
  // The method's own cross-parameter rule runs on each point of the member's sweep.
  EXPECT_EQ(error_of(R"([{"stack": [{"method": "test-kv", "params": {"ratio": 0.95}, "sweep": {"bits": [8, 2]}}]}])"),
            "s.json: /methods/0/stack/0: expected ratio <= 0.9 with bits 2");
  EXPECT_EQ(error_of(R"([{"stack": [{"method": "no-such"}]}])").substr(0, 62),
            "s.json: /methods/0/stack/0/method: unknown method \"no-such\"; e");
}

TEST(Stacks, AMethodFillingTwoRolesTakesBothPlaces) {
  Suite s = parse(R"([{"stack": [{"method": "test-tokens-and-cache"}, {"method": "test-weight"}]}])");
  ASSERT_EQ(s.methods.size(), 1u);
  const MethodVariant& v = s.methods[0];
  EXPECT_EQ(v.label(), "test-weight + test-tokens-and-cache");
  EXPECT_EQ(v.member_for(Role::Tokens), v.member_for(Role::KvCache));
}

TEST(Stacks, PlanSharesAModelInstancePerDistinctWeightMember) {
  Suite s = parse(R"([{"stack": [{"method": "test-weight", "sweep": {"group": [64, 128]}}, {"method": "test-kv", "sweep": {"bits": [8, 4]}}]},
                      {"method": "test-kv"}])");
  std::vector<Configuration> order = order_for_loading(expand_plan(s));
  ASSERT_EQ(order.size(), 5u);
  EXPECT_FALSE(order[0].transforms_weights());  // the unmodified model's configurations first
  // Then each weight member's configurations together: two instances, not four.
  EXPECT_EQ(model_instance_key(order[1]), model_instance_key(order[2]));
  EXPECT_EQ(model_instance_key(order[3]), model_instance_key(order[4]));
  EXPECT_NE(model_instance_key(order[1]), model_instance_key(order[3]));
  EXPECT_EQ(order[1].weight_member()->params.get_int("group"), order[2].weight_member()->params.get_int("group"));
}

// tests/data/bad-suites/test-methods: each NAME.json fails with NAME.expected.
TEST(Stacks, BadStacksWithTestMethodsFailWithTheirExactMessages) {
  const fs::path dir = fs::path(test::source_dir()) / "tests/data/bad-suites/test-methods";
  size_t n = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() != ".json") continue;
    ++n;
    std::ifstream in(fs::path(f.path()).replace_extension(".expected"));
    ASSERT_TRUE(in) << "missing expectation for " << f.path();
    std::string expected;
    std::getline(in, expected);
    std::string got = "(no error)";
    try {
      load_suite(f.path().string());
    } catch (const InputError& e) {
      got = e.what();
    }
    EXPECT_NE(got.find(expected), std::string::npos) << f.path() << "\nexpected: " << expected << "\ngot:      " << got;
  }
  EXPECT_GE(n, 3u) << "the corpus in " << dir << " is missing";
}

}  // namespace
}  // namespace bp
