#include "harness/runtime/kv/split_kv.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "harness/runtime/kv/partial.h"

namespace bp::rt::kv {

// ---- SplitSide --------------------------------------------------------------------------------------------

SplitSide::SplitSide(const kern::KvLayout& layout) : store_(layout), tail_(layout.head_dim), view_(store_.view()) {
  if (layout.axis == kern::KvAxis::PerChannel && layout.group == 0)
    throw std::invalid_argument("SplitSide: a per-channel side needs a token group (0 = all tokens cannot grow)");
}

void SplitSide::flush(int64_t n) {
  if (n < 0 || n > tail_.size()) throw std::out_of_range("SplitSide::flush: more rows than the FP16 tail holds");
  if (n == 0) return;
  if (layout().axis == kern::KvAxis::PerChannel && n % layout().group != 0)
    throw std::invalid_argument("SplitSide::flush: per-channel groups are quantized whole (n % group != 0)");
  const int D = layout().head_dim;
  const int64_t p = store_.tokens();
  std::vector<float> x((size_t)n * D);
  tail_.read(0, n, x.data(), D);
  store_.resize(p + n);
  kern::kv_quantize(store_.mut(), x.data(), D, p, (int)n);
  tail_.erase_front(n);
  view_ = store_.view();
}

void SplitSide::clear() {
  store_.clear();
  tail_.clear();
  view_ = store_.view();
}

Rows SplitSide::rows(int64_t t) const {
  if (t < packed()) return Rows::of(view_, t);
  return Rows::of_f16(tail_.row(t - packed()), layout().head_dim);
}

KvBytes SplitSide::bytes() const {
  KvBytes b;
  const kern::KvStoreBytes s = kern::kv_store_bytes(layout(), store_.tokens());
  b.payload = s.codes;
  b.scales = s.scales;
  b.zeros = s.mins;
  b.window = tail_.bytes();
  return b;
}

// ---- SplitKv ----------------------------------------------------------------------------------------------

SplitKv::SplitKv(const kern::KvLayout& key_layout, const kern::KvLayout& value_layout)
    : k_(key_layout), v_(value_layout) {
  if (key_layout.role != kern::KvRole::Keys || value_layout.role != kern::KvRole::Values ||
      key_layout.head_dim != value_layout.head_dim)
    throw std::invalid_argument("SplitKv: needs a key layout and a value layout of one head_dim");
}

void SplitKv::append(const float* k, const float* v, int64_t stride, int64_t n) {
  k_.append(k, stride, n);
  v_.append(v, stride, n);
}

void SplitKv::clear() {
  k_.clear();
  v_.clear();
}

void SplitKv::attend(const float* q, int m, float* max, float* sum, float* acc) const {
  const int D = head_dim();
  const int64_t T = size();
  partial_clear(m, D, max, sum, acc);
  // Runs where both sides keep one form: split at the two sides' packed/FP16 boundaries.
  int64_t cuts[4] = {0, std::min(k_.packed(), v_.packed()), std::max(k_.packed(), v_.packed()), T};
  Partial p;
  p.resize(m, D);
  for (int r = 0; r < 3; ++r) {
    const int64_t a = cuts[r], b = cuts[r + 1];
    if (b <= a) continue;
    attend_rows(q, D, m, D, k_.rows(a), v_.rows(a), b - a, p.max.data(), p.sum.data(), p.acc.data());
    p.merge_into(m, D, max, sum, acc);
  }
}

void SplitKv::scores(const float* q, int m, float* out, int64_t out_stride) const {
  const int D = head_dim();
  const int64_t P = k_.packed(), T = size();
  if (P > 0) score_rows(q, D, m, D, k_.rows(0), P, out, out_stride);
  if (T > P) score_rows(q, D, m, D, k_.rows(P), T - P, out + P, out_stride);
}

KvBytes SplitKv::bytes() const {
  KvBytes b = k_.bytes();
  b += v_.bytes();
  return b;
}

}  // namespace bp::rt::kv
