#pragma once
// TokenStoreCache: a complete KvCache keeping every token of every (layer, KV head) in a TokenStore of one format
// (token_store.h). With no policy of its own it is the whole of kv-int8 and kv-uniform per-token; eviction methods
// derive from it, call TokenStoreCache::store() to append the batch, then drop tokens from store_at(layer, h)
// (per KV head; stored_len follows each store). Observations index stored tokens in TokenStore order.
#include "harness/runtime/kv/token_store.h"
#include "harness/runtime/kv_cache_base.h"

namespace bp::rt::kv {

class TokenStoreCache : public KvCacheBase {
 public:
  TokenStoreCache(const KvGeometry& g, const TokenFormat& format);
  KvBytes bytes() const override { return grid_.bytes(); }
  // The stores' capacities. Subclasses with side data (positions, scores) add theirs.
  size_t bytes_allocated() const override { return grid_.allocated(); }
  void reset() override { grid_.clear(); }
  const TokenFormat& format() const { return format_; }
  const TokenStore& store_at(int layer, int kv_head) const { return grid_.at(layer, kv_head); }

 protected:
  int64_t stored_len(int layer, int kv_head) const override { return grid_.at(layer, kv_head).size(); }
  void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                     float* acc) const override;
  void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const override;
  void store(const StoreBatch& s) override;
  TokenStore& store_at(int layer, int kv_head) { return grid_.at(layer, kv_head); }

  TokenFormat format_;
  TokenStoreGrid grid_;
};

}  // namespace bp::rt::kv
