#include "datasets/common/rng.h"

#include <algorithm>
#include <numeric>

namespace bp::data {

uint64_t uniform_below(std::mt19937_64& g, uint64_t n) {
  // Reject the top partial block of the 2^64 range so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
  uint64_t x;
  do x = g();
  while (x > limit);
  return x % n;
}

int64_t uniform_between(std::mt19937_64& g, int64_t lo, int64_t hi) {
  return lo + (int64_t)uniform_below(g, (uint64_t)(hi - lo) + 1);
}

uint64_t mix_seed(uint64_t seed, uint64_t value) {
  uint64_t z = seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<size_t> choose_subset(size_t n, size_t limit, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  if (limit == 0 || limit >= n) return idx;
  std::mt19937_64 g(seed);
  // Forward Fisher-Yates: position i receives a uniform pick among the not-yet-placed items, so the first `limit`
  // positions are a uniform sample and a prefix of any longer run with the same seed.
  for (size_t i = 0; i < limit; ++i) std::swap(idx[i], idx[i + (size_t)uniform_below(g, n - i)]);
  idx.resize(limit);
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace bp::data
