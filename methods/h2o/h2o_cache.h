#pragma once
// H2O, Heavy-Hitter Oracle (methods.md §7; Zhang et al. 2023; FMInference/H2O, the real-drop cache of
// `utils_real_drop`): keep the tokens that have received the most attention so far ("heavy hitters") plus the most
// recent ones, and really drop every other token.
//
// SCORES. Per (layer, KV head), every kept token carries the sum of the softmax probabilities it has received from
// every query row so far (column sums of the attention matrix, accumulated over calls), summed over the query heads
// of the KV group (GQA: one score and one eviction decision per KV head; KvCacheBase's Observation does the group
// sum). A new token's score starts with the probabilities it receives from its own batch (itself and later rows).
// Getting the prefill's column sums needs the probabilities of EVERY prompt row: an observation of O(n²) work next
// to the prefill attention itself (inherent to H2O's definition; the decode steps cost O(T) per step).
//
// BUDGET. heavy h + recent r tokens per (layer, KV head):
//   budget=ratio (default, as the reference): h = floor(heavy_ratio · P), r = floor(recent_ratio · P) with P the
//     prompt length (tokens received in Prefill calls of this sequence, so far); a non-zero ratio keeps at least
//     one token. Before any Prefill call (P = 0) nothing is evicted.
//   budget=tokens: h = heavy_tokens, r = recent_tokens, fixed.
// EVICTION, after every call (prefill or decode) once stored + new tokens exceed h + r: the r tokens of largest
// position are kept (the recent window), then the h highest-scored of the others (ties: the later token); all
// others are dropped, scores included. A one-token decode step with a full cache thus drops exactly one token.
// recent = 0 is a real configuration: no window, the top h tokens by score among ALL tokens (the new token can be
// dropped right after its own step). The reference's `[-recent_size:]` slicing turns recent_size = 0 into "keep
// everything" (H2O issue #33); that is a bug, not a definition, and is not reproduced.
//
// STORAGE. A TokenStore per (layer, KV head) in the `storage` format (FP16 rows or per-token INT8/4/2 codes); keys
// post-RoPE at their absolute positions (positions are never re-assigned, as in H2O). A new token that survives
// takes the slot of an evicted one (keep_tokens.h: O(D) per evicted token, no compaction), so store order is not
// time order and each kept token's absolute position is kept (int32) to find the recent window.
//
// BYTES (exact, held T tokens per (layer, KV head)): the TokenStore (fp16: 4·D B per token; packed: codes, FP16
// scales, FP16 mins, key tiles of 64 tokens as allocated) + the FP32 accumulated score (4 B, `scores`) + the int32
// position (4 B, `indices`) per kept token-head.
#include <cstdint>
#include <vector>

#include "harness/runtime/kv/token_store_cache.h"

namespace bp::methods::h2o {

struct Config {
  bool ratio = true;          // budgets as fractions of the prompt (else token counts)
  double heavy_ratio = 0.1;
  double recent_ratio = 0.1;
  int64_t heavy_tokens = 256;
  int64_t recent_tokens = 256;
};

struct Budget {
  bool known = false;  // false: ratio budgets before any prompt token (nothing is evicted)
  int64_t heavy = 0, recent = 0;
  int64_t total() const { return heavy + recent; }
};

// Side data of one (layer, KV head)'s kept tokens, in store order: absolute positions and accumulated scores.
struct H2oTokens {
  std::vector<int32_t> pos;
  std::vector<float> score;
};

// The budget for a sequence whose Prefill calls have brought `prompt_tokens` tokens so far.
Budget h2o_budget(const Config& c, int64_t prompt_tokens);

// One call's H2O step for one (layer, KV head), shared by the CPU and the CUDA cache: adds the observation (column
// sums over the S stored tokens, then the n new ones) to the stored tokens' scores and returns the keep flags over
// the S + n tokens. The caller moves the tokens and rebuilds t with remap_side (new tokens' scores: obs[S..]).
std::vector<uint8_t> h2o_decide(H2oTokens& t, const std::vector<float>& obs, const int32_t* new_pos, int n,
                                const Budget& b);

// The stats() both caches report: the layer-0 budget and prompt, evicted token-heads, held / arrived.
nlohmann::json h2o_stats(const Budget& b, int64_t prompt_tokens, int64_t evicted, int64_t held, int64_t arrived);

class H2oCache : public rt::kv::TokenStoreCache {
 public:
  H2oCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c);
  rt::KvBytes bytes() const override;
  // The stores' capacities plus those of the positions and accumulated scores (rebuilt at their exact size every
  // call) and of any observation still held.
  size_t bytes_allocated() const override;
  void reset() override;
  nlohmann::json stats() const override;

  Budget budget(int layer) const;
  // Side data of the kept tokens, in store order: absolute positions and accumulated scores.
  const std::vector<int32_t>& positions(int layer, int kv_head) const { return head(layer, kv_head).pos; }
  const std::vector<float>& scores(int layer, int kv_head) const { return head(layer, kv_head).score; }

 protected:
  rt::ObserveRequest observe(const rt::AttnBatch& b) const override;
  void on_attention(const rt::Observation& o) override;
  void store(const rt::StoreBatch& s) override;

 private:
  using Head = H2oTokens;
  const Head& head(int layer, int h) const { return heads_[(size_t)layer * g_.n_kv_heads + h]; }
  Head& head(int layer, int h) { return heads_[(size_t)layer * g_.n_kv_heads + h]; }

  Config cfg_;
  std::vector<Head> heads_;
  std::vector<std::vector<float>> observed_;  // per KV head of the current call: column sums over stored + new
  std::vector<int64_t> prompt_;               // per layer: tokens received in Prefill calls
  int64_t arrived_ = 0, evicted_ = 0;         // token-heads, over all layers
};

// The H2O keep decision over `total` candidate tokens (stored + new) with positions `pos` and scores `score`:
// flags for the budget's recent window (largest positions) and heavy hitters (highest scores among the rest, ties
// to the later position). Every token is kept when total <= budget (or the budget is unknown).
std::vector<uint8_t> h2o_keep(const std::vector<int32_t>& pos, const std::vector<float>& score, const Budget& b);

}  // namespace bp::methods::h2o
