#include "harness/runtime/kv/token_store_cache.h"

namespace bp::rt::kv {

TokenStoreCache::TokenStoreCache(const KvGeometry& g, const TokenFormat& format)
    : KvCacheBase(g), format_(format), grid_(g.n_layers, g.n_kv_heads, g.head_dim, format) {}

void TokenStoreCache::attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                                    float* acc) const {
  grid_.at(layer, kv_head).attend(q, m, max, sum, acc);
}

void TokenStoreCache::score_stored(int layer, int kv_head, const float* q, int m, float* scores) const {
  const TokenStore& st = grid_.at(layer, kv_head);
  st.scores(q, m, scores, st.size());
}

void TokenStoreCache::store(const StoreBatch& s) { grid_.append_layer(s.layer, s.k, s.v, s.n); }

}  // namespace bp::rt::kv
