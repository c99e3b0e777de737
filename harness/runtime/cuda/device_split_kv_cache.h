#pragma once
// The device twin of rt::kv::SplitKvCache (harness/runtime/kv/split_kv_cache.h): per (layer, KV head), keys and
// values each hold their oldest tokens in a packed store and their newest as FP16 rows, with a split point per side.
// New tokens enter as FP16 rows on both sides; after every call the method's settle() says how many of the oldest
// FP16 rows each side quantizes (KIVI: keys in whole residual blocks, values beyond the last R; kv-uniform
// per-channel: every complete token group). Flushing converts those rows back to F32 and runs the CUDA quantizer,
// so the packed data is bit-identical to the CPU's (which also quantizes from the FP16-rounded rows).
// Attention reads both forms in one launch of the split attention kernel (kernels/common/kv_split_rows.h).
// Bytes: as the CPU: packed codes -> payload, scales, mins -> zeros, FP16 rows (2·head_dim B per row per side)
// -> window.
#include <vector>

#include "harness/runtime/cuda/device_half_rows.h"
#include "harness/runtime/cuda/device_kv_cache_base.h"
#include "harness/runtime/cuda/device_packed_store.h"

namespace bp::rt::cuda {

class DeviceSplitKvCache : public DeviceKvCacheBase {
 public:
  DeviceSplitKvCache(const DeviceGeometry& g, const kern::KvLayout& key_layout, const kern::KvLayout& value_layout);
  KvBytes bytes() const override;
  // The packed stores' and FP16 rows' device buffers (the F32 flush scratch is working memory, not counted).
  size_t bytes_allocated() const override;
  void reset() override;
  // Tokens held packed and in FP16, per side, summed over (layer, KV head): the CPU twin's keys.
  nlohmann::json stats() const override;

 protected:
  // Rows to quantize on each side after a call, given the FP16 rows each side holds (every KV head of a layer holds
  // the same counts). Per-channel sides must be given whole token groups.
  struct Flush {
    int64_t keys = 0, values = 0;
  };
  virtual Flush settle(int64_t key_fp16, int64_t value_fp16) const = 0;

  int64_t stored_len(int layer, int kv_head) const override { return total_[layer]; }
  void attend_stored(int layer, int kv_head, const float* q, int64_t q_stride, int m, float* max, float* sum,
                     float* acc, void* stream) const override;
  void store(int layer, const float* k, const float* v, int n, void* stream) override;

 private:
  struct Side {
    DevicePackedStore packed;
    DeviceHalfRows fp16;
  };
  Side& side(int layer, int h, bool keys) { return sides_[((size_t)layer * g_.n_kv_heads + h) * 2 + (keys ? 0 : 1)]; }
  const Side& side(int layer, int h, bool keys) const {
    return sides_[((size_t)layer * g_.n_kv_heads + h) * 2 + (keys ? 0 : 1)];
  }
  kern::SplitRowsRef rows(const Side& s, int64_t packed) const;
  // Moves the n oldest FP16 rows of s into its packed part (which holds `packed` tokens), ordered on `stream`.
  void flush(Side& s, int64_t packed, int64_t n, void* stream);

  kern::KvLayout klay_, vlay_;
  std::vector<int64_t> total_, kpacked_, vpacked_;  // per layer
  std::vector<Side> sides_;
  kern::cuda::DeviceBuffer scratch_;  // F32 rows being quantized
};

}  // namespace bp::rt::cuda
