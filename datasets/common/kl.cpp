#include "datasets/common/kl.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "datasets/common/logprob.h"

namespace bp::data {

size_t reference_record_floats(int top_k, int tail_samples) { return 3 + 2 * (size_t)top_k + 2 * (size_t)tail_samples; }

void append_reference_record(const float* logits, int vocab, int top_k, int tail_samples, uint64_t seed,
                             std::vector<float>& out) {
  if (vocab >= (1 << 24)) throw std::invalid_argument("KL reference record: vocabulary too large for float ids");
  const int k = std::max(1, std::min(top_k, vocab));
  const int s = k == vocab ? 0 : std::max(0, tail_samples);
  const double lse = logsumexp(logits, vocab);
  std::vector<int> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  // Cumulative mass over the tail in the order the partial sort left it (deterministic for a given build, which is
  // all a record needs: it lives within one run).
  std::vector<double> cum(vocab - k);
  double rest = 0;
  for (int i = k; i < vocab; ++i) cum[i - k] = rest += std::exp((double)logits[idx[i]] - lse);
  out.push_back((float)k);
  out.push_back((float)s);
  out.push_back((float)rest);
  auto push = [&](int id) {
    out.push_back((float)id);
    out.push_back((float)((double)logits[id] - lse));
  };
  for (int i = 0; i < k; ++i) push(idx[i]);
  if (s > 0) {
    // Systematic sampling: one uniform offset, s evenly spaced points through the tail's cumulative mass.
    std::mt19937_64 g(seed);
    const double u = (double)(g() >> 11) * 0x1.0p-53;
    for (int j = 0; j < s; ++j) {
      const double target = (j + u) / s * rest;
      size_t at = (size_t)(std::upper_bound(cum.begin(), cum.end(), target) - cum.begin());
      push(idx[k + std::min(at, cum.size() - 1)]);
    }
  }
}

KlPoint kl_from_record(const float* record, const float* logits, int vocab, std::vector<uint8_t>& mark) {
  const int k = (int)record[0], s = (int)record[1];
  const float p_rest = record[2];
  const float* top = record + 3;
  const float* samples = top + 2 * (size_t)k;
  const double lse = logsumexp(logits, vocab);
  // Same rounding as the record: F32 log-prob of the same double expression.
  auto lq = [&](int id) { return (double)(float)((double)logits[id] - lse); };
  KlPoint r;
  r.ref_tail = p_rest;
  double kl = 0;
  for (int i = 0; i < k; ++i) {
    const double lp = top[2 * i + 1];
    kl += std::exp(lp) * (lp - lq((int)top[2 * i]));
  }
  if (p_rest > 0 && s > 0) {
    double sum = 0;
    for (int j = 0; j < s; ++j) sum += (double)samples[2 * j + 1] - lq((int)samples[2 * j]);
    kl += (double)p_rest * sum / s;
  } else if (p_rest > 0) {
    if ((int)mark.size() != vocab) mark.assign(vocab, 0);
    for (int i = 0; i < k; ++i) mark[(int)top[2 * i]] = 1;
    double rest = 0;
    for (int v = 0; v < vocab; ++v)
      if (!mark[v]) rest += std::exp((double)logits[v] - lse);
    for (int i = 0; i < k; ++i) mark[(int)top[2 * i]] = 0;
    const float q_rest = std::max((float)rest, FLT_MIN);
    kl += (double)p_rest * (std::log((double)p_rest) - std::log((double)q_rest));
  }
  r.kl = kl;
  r.same_top1 = argmax(logits, vocab) == (int)top[0];
  return r;
}

}  // namespace bp::data
