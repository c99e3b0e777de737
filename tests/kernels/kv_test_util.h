#pragma once
// Helpers shared by the KV kernel tests: random data, ISA sweeps, and comparison of online-softmax partial states.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"

namespace bp::kern::test {

inline std::vector<float> randn(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Every ISA level the CPU has, scalar first; restores the cap afterwards.
template <class Fn>
void for_each_isa(Fn&& fn) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if ((int)isa > (int)detected_isa()) continue;
    set_isa_cap(isa);
    fn(isa);
  }
  set_isa_cap(Isa::Avx512);
}

struct Partial {
  std::vector<float> max, sum, acc;
  Partial(int m, int D) : max(m, NAN), sum(m, NAN), acc((size_t)m * D, NAN) {}
};

// Two partial states agree when every row has the same emptiness, the same log-sum-exp (max + log sum) within
// `tol`, and the same normalized output acc/sum within `tol` relative to the row's largest |output| (+1e-6).
// Max and sum separately may differ by float rounding of the scores, which cancels in these two quantities.
inline ::testing::AssertionResult same_partial(const Partial& got, const Partial& ref, int m, int D, float tol) {
  for (int i = 0; i < m; ++i) {
    const bool ge = got.sum[i] == 0.0f, re = ref.sum[i] == 0.0f;
    if (ge != re) return ::testing::AssertionFailure() << "row " << i << ": emptiness differs";
    if (re) {
      if (got.max[i] != -INFINITY) return ::testing::AssertionFailure() << "row " << i << ": empty row max not -inf";
      for (int d = 0; d < D; ++d)
        if (got.acc[(size_t)i * D + d] != 0.0f) return ::testing::AssertionFailure() << "row " << i << ": acc not 0";
      continue;
    }
    const float lg = got.max[i] + std::log(got.sum[i]), lr = ref.max[i] + std::log(ref.sum[i]);
    if (!(std::fabs(lg - lr) <= tol * (1.0f + std::fabs(lr))))
      return ::testing::AssertionFailure() << "row " << i << ": logsumexp " << lg << " vs " << lr;
    float scale = 1e-6f;
    for (int d = 0; d < D; ++d) scale = std::max(scale, std::fabs(ref.acc[(size_t)i * D + d] / ref.sum[i]));
    for (int d = 0; d < D; ++d) {
      const float og = got.acc[(size_t)i * D + d] / got.sum[i], orf = ref.acc[(size_t)i * D + d] / ref.sum[i];
      if (!(std::fabs(og - orf) <= tol * scale))
        return ::testing::AssertionFailure() << "row " << i << " d " << d << ": output " << og << " vs " << orf;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bp::kern::test
