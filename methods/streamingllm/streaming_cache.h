#pragma once
// StreamingLLM (methods.md §7; Xiao et al. 2023; mit-han-lab/streaming-llm `kv_cache.py`, `pos_shift/
// modify_llama.py`): keep the first `sinks` tokens of the sequence (attention sinks) and the last `window` tokens,
// drop everything between, and give RoPE positions by place IN THE CACHE, not in the text.
//
// POSITIONS. Keys are cached PRE-RoPE. The kept tokens, in time order, have in-cache positions 0..T-1 (sinks
// first); a call's new token i gets position T + i for its query and its key (T = tokens held before the call),
// and at every attention the stored keys are rotated at their current in-cache positions (they shift down by one
// each time the oldest window token leaves). So positions stay below sinks + window + batch length however long
// the stream, as the reference's pos_shift does. With quantized `storage` it is the pre-RoPE keys that are
// quantized.
// ROTATION COST, measured not hidden: attend_stored reads the stored keys and values in blocks of 128 tokens,
// dequantizes/converts them to F32, rotates each key at its in-cache position and runs the F32 partial-attention
// kernel per block (no F32 copy of more than one block; nothing cached between steps, since every position
// changes at every step). That is O(T·D) rotation work per (layer, KV head) and step on top of attention.
// Measured (SmolLM2-135M geometry, cache alone, 1 thread, fp16 storage, 1024 held tokens): 5-9 ms per decode
// step vs 1.8 ms for the fp16 cache holding 2k tokens and 7-11 ms at 8k: about 3x the per-token cost of the
// plain FP16 kernel. With quantized storage kern::kv_dequantize of every block dominates (~100 ms per step).
//
// EVICTION after every call (prefill or decode): the store keeps the first `sinks` tokens ever received and the
// last `window` of the others. A call is attended in full (every new token sees everything held plus the earlier
// new tokens of its call) and cut afterwards: a prompt longer than sinks + window is prefilled with full causal
// attention at positions 0..n-1 (the reference evaluation prefills the same way) and then cut to sinks + the last
// window tokens, which take positions 0..sinks+window-1.
// STORAGE. One TokenStore per (layer, KV head) in the `storage` format: slots [0, sinks) hold the sinks, slots
// [sinks, sinks + window) a ring of the window tokens (a new token overwrites the oldest one's slot, O(D): no
// compaction). One ring head per layer (all KV heads of a layer hold the same tokens).
// BYTES (exact): the TokenStore only (fp16: 4·D B per held token-head; packed: codes, FP16 scales/mins, key tiles
// of 64 tokens as allocated). The ring head (one integer per layer) is bookkeeping like every cache's token count.
#include <cstdint>
#include <vector>

#include "harness/runtime/kv/token_store_cache.h"
#include "methods/streamingllm/streaming_plan.h"

namespace bp::methods::streamingllm {

struct Config {
  int64_t sinks = 4;
  int64_t window = 1020;
};

// The stats() both caches report (layer 0).
nlohmann::json streaming_stats(const Config& c, int64_t evicted, int64_t held, int64_t arrived);

class StreamingCache : public rt::kv::TokenStoreCache {
 public:
  StreamingCache(const rt::KvGeometry& g, const rt::kv::TokenFormat& format, const Config& c);
  void reset() override;
  nlohmann::json stats() const override;
  // In-cache position of the token held in slot t of a layer's stores.
  int64_t position_of_slot(int layer, int64_t t) const;

 protected:
  bool keys_stored_rotated() const override { return false; }
  int64_t query_position(const rt::AttnBatch& b, int i) const override { return stored_len(b.layer, 0) + i; }
  int64_t key_position(const rt::AttnBatch& b, int i) const override { return stored_len(b.layer, 0) + i; }
  void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                     float* acc) const override;
  void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const override;
  void store(const rt::StoreBatch& s) override;

 private:
  std::vector<SlotRun> runs(int layer) const;  // every held slot, in in-cache position order (held_runs)

  Config cfg_;
  std::vector<int64_t> ring_head_;  // per layer: window slot (offset from `sinks`) of the oldest window token
  int64_t arrived_ = 0, evicted_ = 0;  // tokens of layer 0
};

}  // namespace bp::methods::streamingllm
