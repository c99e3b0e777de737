#pragma once
// DeviceKvCacheBase: the CUDA twin of KvCacheBase's attend() flow (kv_cache_base.h), so a device method only says
// how it stores tokens and which kernel reads them:
//   1. rotate queries (scaled by 1/sqrt(head_dim)) and keys at their absolute positions on the device;
//   2. per query head: partial over the stored tokens (the method's attend_stored kernel), partial over the new
//      tokens (causal F32 flash kernel), merged and normalised into the output;
//   3. store() takes the rotated keys and the values (or, for a cache that stores keys pre-RoPE, the keys as they
//      came, before rotation).
// A cache that assigns its own positions (StreamingLLM: positions in the cache, not in the text) returns them from
// prepare(), which runs once per layer call before anything else.
// Observations (H2O, SnapKV, ZipCache): a cache whose observe_rows() names rows of the call gets, per KV head, the
// column sums of those rows' attention probabilities over its stored tokens (observe_stored, the cache's storage
// order) and the new tokens (causal), summed over the group's query heads, with each row's final statistics: the
// CPU KvCacheBase's ColumnSum observation. They are downloaded to the host before store() (observation()).
#include <vector>

#include "harness/runtime/device_session.h"
#include "kernels/cuda/kv_cuda.h"

namespace bp::rt::cuda {

using rt::DeviceGeometry;

class DeviceKvCacheBase : public DeviceKvCache {
 public:
  explicit DeviceKvCacheBase(const DeviceGeometry& g);
  void attend(DeviceAttnBatch& b) override;
  int64_t tokens(int layer, int kv_head) const override { return stored_len(layer, kv_head); }

 protected:
  virtual int64_t stored_len(int layer, int kv_head) const = 0;
  // Partial over the stored tokens of (layer, kv_head) for m query rows (row i at q + i·q_stride, rotated and
  // scaled), written to max[m], sum[m], acc[m][head_dim] (device), ordered on `stream`.
  virtual void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                             float* acc, void* stream) const = 0;
  // Keys (rotated, unless keys_stored_rotated() is false) and values [n][n_kv_heads][head_dim] (device) to take
  // into storage.
  virtual void store(int layer, const float* k, const float* v, int n, void* stream) = 0;
  // False: store() receives the keys before rotation (the cache rotates stored keys itself when it attends).
  virtual bool keys_stored_rotated() const { return true; }
  // Device positions [n] at which the call's queries and keys are rotated (default: their positions in the text).
  // Runs first in every layer call.
  virtual const int32_t* prepare(const DeviceAttnBatch& b) { return b.pos; }
  // The new-token rows (ascending, < n) whose probabilities are observed; empty for none (the default, no work).
  virtual std::vector<int32_t> observe_rows(const DeviceAttnBatch&) const { return {}; }
  // Adds Σ_i p(rows[i], j) over the m observed rows (device list; q row r at q + r·q_stride, pre-scaled; final row
  // statistics row_max[r]/row_sum[r]) to col[j] for every stored token j of (layer, kv_head) in storage order.
  // Needed when observe_rows() asks; the default throws.
  virtual void observe_stored(int layer, int kv_head, const float* q, int64_t q_stride, const int32_t* rows, int m,
                              const float* row_max, const float* row_sum, float* col, void* stream) const;
  // This call's observation of a KV head on the host (stored tokens, then new ones), empty when none was asked.
  // Valid in store().
  const std::vector<float>& observation(int kv_head) const { return observed_[(size_t)kv_head]; }

  DeviceGeometry g_;

 private:
  void ensure_scratch(int n);
  int cap_ = 0;
  void observe_head(const DeviceAttnBatch& b, int h, int m, int64_t obs_stride);
  kern::cuda::DeviceBuffer st_max_, st_sum_, st_acc_, nw_max_, nw_sum_, nw_acc_, out_index_, pre_rope_k_;
  kern::cuda::DeviceBuffer row_max_, row_sum_, obs_, obs_rows_;
  std::vector<std::vector<float>> observed_;
};

}  // namespace bp::rt::cuda
