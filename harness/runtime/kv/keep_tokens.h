#pragma once
// keep_tokens: applies an eviction decision to one TokenStore (token_store.h), policy-free. Shared by the eviction
// methods whose decision is a set of tokens over "stored tokens + the batch's new tokens" (h2o every step, snapkv
// at prefill): the method decides WHICH tokens stay, this decides WHERE they go, as cheaply as the store allows.
//
//   - kept stored tokens stay in their slots (no copy);
//   - kept new tokens first fill the slots of dropped stored tokens (TokenStore::overwrite, O(D) each: a decode
//     step that evicts one token and adds one costs O(D), not the O(T·D) of a compaction);
//   - further kept new tokens are appended (one append of the gathered rows);
//   - slots of dropped stored tokens left unfilled are closed by one stable compaction (TokenStore::keep), the only
//     O(T·D) case (e.g. a budget that shrinks, or a new token that is itself dropped while an old one goes too).
// Slot reuse gives up time order inside the store, so a policy that needs recency keeps positions alongside (the
// returned source map tells it where every token went). Attention does not depend on the order.
#include <cstdint>
#include <vector>

#include "harness/runtime/kv/token_store.h"

namespace bp::rt::kv {

// keep: S + n flags (S = st.size() on entry): stored tokens 0..S-1 in store order, then new tokens 0..n-1 whose
// key i is at k + i·stride and value i at v + i·stride. Returns, for every token of the store afterwards (store
// order), its source index in that same numbering (< S: a stored token, >= S: new token src - S).
std::vector<int32_t> keep_tokens(TokenStore& st, const float* k, const float* v, int64_t stride, int n,
                                 const std::vector<uint8_t>& keep);

// Rebuilds a per-token side array (positions, scores, ...) after keep_tokens: out[j] = src[j] < S ? old[src[j]]
// : fresh[src[j] - S].
template <class T>
std::vector<T> remap_side(const std::vector<int32_t>& src, const std::vector<T>& old, const T* fresh) {
  const int32_t S = (int32_t)old.size();
  std::vector<T> out(src.size());
  for (size_t j = 0; j < src.size(); ++j) out[j] = src[j] < S ? old[(size_t)src[j]] : fresh[src[j] - S];
  return out;
}

}  // namespace bp::rt::kv
