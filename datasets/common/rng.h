#pragma once
// Deterministic randomness for tasks: the same seed gives the same subsets and prompts on every platform and
// standard library. std::mt19937_64's output sequence is fixed by the standard, but std::uniform_int_distribution
// and std::shuffle are not, so bounded draws and shuffles are written here.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace bp::data {

// Uniform integer in [0, n) by rejection sampling (unbiased, portable). n > 0.
uint64_t uniform_below(std::mt19937_64& g, uint64_t n);
// Uniform integer in [lo, hi] (inclusive).
int64_t uniform_between(std::mt19937_64& g, int64_t lo, int64_t hi);

// Mixes values into a seed (splitmix64 finaliser over each value in turn): per-item seeds derived from the task
// seed and the item's coordinates, so an item's prompt does not depend on which other items run.
uint64_t mix_seed(uint64_t seed, uint64_t value);
template <class... Rest>
uint64_t mix_seed(uint64_t seed, uint64_t value, Rest... rest) {
  return mix_seed(mix_seed(seed, value), static_cast<uint64_t>(rest)...);
}

// The seed a task draws from: its own `seed` option mixed with the suite's seed (TaskContext::seed), so changing
// either changes the draws; both are part of the configuration's identity.
inline uint64_t task_seed(long long option_seed, uint64_t suite_seed) {
  return mix_seed((uint64_t)option_seed, suite_seed);
}

// Indices of the items to evaluate: all of 0..n-1 in order when limit == 0 or limit >= n; otherwise `limit`
// indices drawn without replacement by a Fisher-Yates shuffle seeded with `seed`, returned ascending. A smaller
// limit with the same seed selects a subset of a larger limit's selection (the shuffle's prefix).
std::vector<size_t> choose_subset(size_t n, size_t limit, uint64_t seed);

}  // namespace bp::data
