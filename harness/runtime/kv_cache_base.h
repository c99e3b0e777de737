#pragma once
// KvCacheBase: the attend() flow written once, so a method only says how it stores tokens and how its kernel reads
// them. For each layer call:
//   1. positions: queries and keys of the new tokens are rotated at query_position()/key_position()
//      (absolute by default; StreamingLLM-style caches re-assign positions inside the cache);
//   2. for every query head and new token, a partial attention state over the *stored* tokens comes from the
//      method's attend_stored() kernel (packed codes read directly), and one over the *new* tokens (causal, F32)
//      from the shared kernel; the two merge exactly (kernels/common/softmax_math.h);
//   3. if the method asked through observe(), normalised attention probabilities of the requested query rows
//      over stored + new tokens (summed over the query heads of each KV group) go to on_attention(); nothing
//      of the kind is computed when nobody asked;
//   4. store() hands the new keys (rotated, or raw when keys_stored_rotated() is false) and values to the method.
#include <memory>
#include <vector>

#include "harness/runtime/kv_cache.h"

namespace bp::rt {

// Observation the method wants for one attend() call.
struct ObserveRequest {
  enum class Mode {
    None,       // nothing (the default; no extra work)
    ColumnSum,  // Σ over the requested rows of p(row, key), per key: one vector of stored_len + n per KV head
    Rows,       // p(row, key) for each requested row: rows.size() vectors of stored_len + n per KV head
  };
  Mode mode = Mode::None;
  std::vector<int32_t> rows;  // indices of new tokens (query rows); empty with a mode other than None = every row
};

// Delivered to on_attention() for one (layer, kv_head). Probabilities are summed over the KV group's query heads
// (so a row of probabilities sums to group()). Keys are indexed 0..stored-1 for stored tokens in the method's own
// storage order (the order score_stored() uses), then stored..stored+n-1 for the batch's new tokens.
struct Observation {
  int layer = 0;
  int kv_head = 0;
  int64_t stored = 0;                  // stored tokens at the time of the call (before store())
  int n_new = 0;
  const std::vector<int32_t>* rows = nullptr;  // the query rows (new-token indices) that were observed
  const float* data = nullptr;         // ColumnSum: [stored + n_new]; Rows: [rows->size()][stored + n_new]
  ObserveRequest::Mode mode = ObserveRequest::Mode::None;
};

// The new tokens of one layer, ready to be stored.
struct StoreBatch {
  int layer = 0;
  Phase phase = Phase::Prefill;
  int n = 0;
  const int32_t* pos = nullptr;  // absolute positions [n]
  const float* k = nullptr;      // [n][n_kv_heads][head_dim], rotated unless keys_stored_rotated() is false
  const float* v = nullptr;      // [n][n_kv_heads][head_dim]
};

class KvCacheBase : public KvCache {
 public:
  explicit KvCacheBase(const KvGeometry& g);
  void attend(AttnBatch& b) override;
  const KvGeometry& geometry() const { return g_; }
  int64_t tokens(int layer, int kv_head) const override { return stored_len(layer, kv_head); }

 protected:
  // ---- storage: what a method implements -------------------------------------------------------------------
  // Tokens held for (layer, kv_head).
  virtual int64_t stored_len(int layer, int kv_head) const = 0;
  // Partial attention of m query rows over the stored tokens of (layer, kv_head). q: [m][head_dim], rotated and
  // already multiplied by 1/sqrt(head_dim). Writes max[m], sum[m], acc[m][head_dim] (see softmax_math.h); with no
  // stored tokens: max = -inf, sum = 0, acc = 0. Called concurrently for different (kv_head, rows): must be const
  // and thread-safe.
  virtual void attend_stored(int layer, int kv_head, const float* q, int m, float* max, float* sum,
                             float* acc) const = 0;
  // Raw scores (q · k, q pre-scaled as above) of m query rows against every stored token: scores[m][stored_len].
  // Only called when the method requested an observation.
  virtual void score_stored(int layer, int kv_head, const float* q, int m, float* scores) const = 0;
  // Takes the batch's tokens into storage (after attention for the batch is complete).
  virtual void store(const StoreBatch& s) = 0;

  // ---- positions ---------------------------------------------------------------------------------------------
  // false: keys arrive at store() unrotated (the method rotates stored keys itself, e.g. at in-cache positions)
  // and new keys are rotated for the batch's own attention at key_position().
  virtual bool keys_stored_rotated() const { return true; }
  // RoPE position of new token i of the batch, for its query and for its key. Default: the absolute position.
  virtual int64_t query_position(const AttnBatch& b, int i) const { return b.pos[i]; }
  virtual int64_t key_position(const AttnBatch& b, int i) const { return b.pos[i]; }

  // ---- observation --------------------------------------------------------------------------------------------
  virtual ObserveRequest observe(const AttnBatch& b) const { return {}; }
  virtual void on_attention(const Observation& o) {}

  KvGeometry g_;

 private:
  void attend_selected(AttnBatch& b);
  void compute_observation(const AttnBatch& b, const float* q_rot, const float* k_rot, const ObserveRequest& req);
  std::vector<float> q_rot_, k_rot_;  // scratch: rotated, scaled queries; rotated keys
  // Final softmax statistics of every (new token, query head) of the call, kept when an observation was requested.
  std::vector<float> row_max_, row_sum_;
};

}  // namespace bp::rt
