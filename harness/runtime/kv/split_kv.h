#pragma once
// SplitKv: keys and values of ONE (layer, KV head) where, on each side, the oldest tokens are quantized into a
// packed store (any layout of kernels/common/kv_layout.h: per-token or per-channel groups) and the newest are FP16
// rows. The building block of caches that cannot quantize a token the moment it arrives:
//   - per-channel groups of G tokens can only be quantized once G tokens exist (kv-uniform per-channel, KIVI keys);
//   - a method may keep a full-precision residual window on purpose (KIVI values: the last R tokens).
// Tokens enter at the FP16 end of both sides (append); the owner's policy then moves the oldest FP16 rows of a side
// into its packed part (flush_keys / flush_values). Each side keeps its own split point, so a token can have a
// packed key and an FP16 value; attend() splits the token range at both split points and runs each run with the
// kernels that read its forms (rows_attention.h), merging the partial states.
// FP16 rows are quantized from their FP16-rounded values (the window holds nothing more precise).
//
// Bytes: packed parts kern::kv_store_bytes(layout, packed tokens) (codes -> payload, scales, mins -> zeros; key
// codes in whole 64-token tiles as allocated); FP16 rows 2·D bytes per row per side -> window. allocated(): the
// capacities of the packed store's and the FP16 rows' buffers (bounded growth; the FP16 tail shrinks after a flush).
#include <cstdint>

#include "harness/runtime/kv/half_rows.h"
#include "harness/runtime/kv/rows_attention.h"
#include "harness/runtime/kv_cache.h"
#include "kernels/cpu/kv_quant.h"

namespace bp::rt::kv {

// One side: packed prefix [0, packed()) + FP16 tail [packed(), size()).
class SplitSide {
 public:
  SplitSide() = default;
  explicit SplitSide(const kern::KvLayout& layout);  // throws std::invalid_argument on an invalid layout
  SplitSide(SplitSide&&) = default;
  SplitSide& operator=(SplitSide&&) = default;
  SplitSide(const SplitSide&) = delete;
  SplitSide& operator=(const SplitSide&) = delete;

  const kern::KvLayout& layout() const { return store_.layout(); }
  int64_t size() const { return store_.tokens() + tail_.size(); }
  int64_t packed() const { return store_.tokens(); }
  int64_t fp16() const { return tail_.size(); }
  void append(const float* x, int64_t stride, int64_t n) { tail_.append(x, stride, n); }
  // Quantizes the n oldest FP16 rows into the packed part. Per-channel layouts: packed() must sit on a group
  // boundary and n must be a multiple of the group (the kernels' rule: groups are quantized whole).
  void flush(int64_t n);
  void clear();
  // Rows starting at token t (t < packed(): packed form, else FP16 form).
  Rows rows(int64_t t) const;
  const kern::PackedKv& packed_view() const { return view_; }
  const HalfRows& tail() const { return tail_; }
  KvBytes bytes() const;
  size_t allocated() const { return store_.bytes().total() + tail_.allocated(); }

 private:
  kern::KvStore store_;
  HalfRows tail_;
  kern::PackedKv view_;
};

class SplitKv {
 public:
  SplitKv() = default;
  SplitKv(const kern::KvLayout& key_layout, const kern::KvLayout& value_layout);
  int head_dim() const { return k_.layout().head_dim; }
  int64_t size() const { return k_.size(); }
  SplitSide& keys() { return k_; }
  SplitSide& values() { return v_; }
  const SplitSide& keys() const { return k_; }
  const SplitSide& values() const { return v_; }
  // Appends n tokens to the FP16 end of both sides (key i at k + i·stride, value i at v + i·stride).
  void append(const float* k, const float* v, int64_t stride, int64_t n);
  void clear();
  // Partial attention of m rows (q [m][D], pre-scaled) over every token held (see TokenStore::attend).
  void attend(const float* q, int m, float* max, float* sum, float* acc) const;
  // Raw scores over every token held: out[i·out_stride + t].
  void scores(const float* q, int m, float* out, int64_t out_stride) const;
  KvBytes bytes() const;
  size_t allocated() const { return k_.allocated() + v_.allocated(); }

 private:
  SplitSide k_, v_;
};

}  // namespace bp::rt::kv
