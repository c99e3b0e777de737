#include "harness/runtime/kv/keep_tokens.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace bp::rt::kv {

std::vector<int32_t> keep_tokens(TokenStore& st, const float* k, const float* v, int64_t stride, int n,
                                 const std::vector<uint8_t>& keep) {
  const int32_t S = (int32_t)st.size();
  if ((int64_t)keep.size() != (int64_t)S + n) throw std::invalid_argument("keep_tokens: one flag per token expected");
  const int D = st.head_dim();
  std::vector<int32_t> src((size_t)S);
  std::iota(src.begin(), src.end(), 0);
  std::vector<int32_t> holes, fresh;
  for (int32_t t = 0; t < S; ++t)
    if (!keep[(size_t)t]) holes.push_back(t);
  for (int i = 0; i < n; ++i)
    if (keep[(size_t)S + i]) fresh.push_back(i);

  // New tokens into freed slots.
  const size_t reuse = std::min(holes.size(), fresh.size());
  for (size_t j = 0; j < reuse; ++j) {
    st.overwrite(holes[j], k + fresh[j] * stride, v + fresh[j] * stride);
    src[(size_t)holes[j]] = S + fresh[j];
  }
  // The rest of the new tokens at the end, gathered so the store quantizes them in one call.
  if (fresh.size() > reuse) {
    const size_t m = fresh.size() - reuse;
    std::vector<float> kk(m * D), vv(m * D);
    for (size_t j = 0; j < m; ++j) {
      std::copy_n(k + fresh[reuse + j] * stride, D, kk.data() + j * D);
      std::copy_n(v + fresh[reuse + j] * stride, D, vv.data() + j * D);
      src.push_back(S + fresh[reuse + j]);
    }
    st.append(kk.data(), vv.data(), D, (int64_t)m);
  }
  // Freed slots nobody filled: one stable compaction.
  if (holes.size() > reuse) {
    std::vector<int32_t> idx;
    idx.reserve(src.size());
    size_t h = reuse;
    for (int32_t t = 0; t < (int32_t)src.size(); ++t) {
      if (h < holes.size() && holes[h] == t) {
        ++h;
        continue;
      }
      idx.push_back(t);
    }
    st.keep(idx);
    std::vector<int32_t> out(idx.size());
    for (size_t j = 0; j < idx.size(); ++j) out[j] = src[(size_t)idx[j]];
    src.swap(out);
  }
  return src;
}

}  // namespace bp::rt::kv
