#include "datasets/common/kl.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "datasets/common/logprob.h"

namespace bp::data {

size_t reference_record_floats(int top_k) { return 2 + 2 * (size_t)top_k; }

void append_reference_record(const float* logits, int vocab, int top_k, std::vector<float>& out) {
  if (vocab >= (1 << 24)) throw std::invalid_argument("KL reference record: vocabulary too large for float ids");
  const int k = std::max(1, std::min(top_k, vocab));
  const double lse = logsumexp(logits, vocab);
  std::vector<int> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  double rest = 0;
  for (int i = k; i < vocab; ++i) rest += std::exp((double)logits[idx[i]] - lse);
  out.push_back((float)k);
  out.push_back((float)rest);
  for (int i = 0; i < k; ++i) {
    out.push_back((float)idx[i]);
    out.push_back((float)((double)logits[idx[i]] - lse));
  }
}

KlPoint kl_from_record(const float* record, const float* logits, int vocab, std::vector<uint8_t>& mark) {
  const int k = (int)record[0];
  const float p_rest = record[1];
  const float* pairs = record + 2;
  if ((int)mark.size() != vocab) mark.assign(vocab, 0);
  const double lse = logsumexp(logits, vocab);
  KlPoint r;
  r.ref_tail = p_rest;
  double kl = 0;
  for (int i = 0; i < k; ++i) {
    const int id = (int)pairs[2 * i];
    const float lp = pairs[2 * i + 1];
    // Same rounding as the record: F32 log-prob of the same double expression.
    const float lq = (float)((double)logits[id] - lse);
    kl += std::exp((double)lp) * ((double)lp - (double)lq);
    mark[id] = 1;
  }
  if (p_rest > 0) {
    double rest = 0;
    for (int v = 0; v < vocab; ++v)
      if (!mark[v]) rest += std::exp((double)logits[v] - lse);
    const float q_rest = std::max((float)rest, FLT_MIN);
    kl += (double)p_rest * (std::log((double)p_rest) - std::log((double)q_rest));
  }
  for (int i = 0; i < k; ++i) mark[(int)pairs[2 * i]] = 0;
  r.kl = kl;
  r.same_top1 = argmax(logits, vocab) == (int)pairs[0];
  return r;
}

}  // namespace bp::data
