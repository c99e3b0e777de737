#pragma once
// Sharding a plan across machines (`bench run --shard i/N`): the ordered plan is cut into N disjoint parts that
// together hold every configuration exactly once, balanced by estimated cost, keeping each model instance's
// configurations together so that no shard loads a model it does not need.
//
// The partition is a pure function of the ordered plan and the costs: every shard of a sweep must compute the same
// partition, so the costs must come from inputs all shards share (the suite, and optionally one --costs-from
// database), never from a shard's own database.
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "harness/core/plan.h"

namespace bp {

struct ShardSpec {
  int index = 1;  // 1-based, as on the command line
  int count = 1;
};

// Parses "i/N" (1 <= i <= N <= kMaxShards). Throws InputError naming `option` on anything else.
ShardSpec parse_shard_spec(const std::string& text, const std::string& option = "--shard");
inline constexpr int kMaxShards = 100000;

// Static cost of a configuration in "token units": the tokens the task pushes through the model, dearer with their
// position (attention), plus a fixed cost per forward call. The method is not part of it. Only ratios matter.
double static_cost(const Configuration& c);

struct ShardPart {
  std::vector<size_t> members;  // indices into the ordered plan, ascending
  double cost = 0;              // sum of the members' costs
  int instance_groups = 0;      // model instances this shard loads
};

// Splits `order` (the plan in execution order, as order_for_loading gives it) into `count` parts.
//   - Whole model-instance groups (model_instance_key) are assigned largest first to the least-loaded shard.
//   - A group larger than total/count is first cut into ceil(group/share) consecutive pieces, the largest as small
//     as possible (a shard holding a piece loads that model once more than an unsharded run would).
//   - Ties are broken by position, so the result depends only on the inputs.
// Every index of `order` is in exactly one part; parts may be empty when there are fewer pieces than shards.
std::vector<ShardPart> partition_plan(const std::vector<Configuration>& order, int count,
                                      const std::function<double(const Configuration&)>& cost);

}  // namespace bp
