#pragma once
// HalfRows: a growing list of head_dim-wide rows stored as IEEE half (raw uint16_t bits), row t at data() + t·D.
// One side (keys OR values) of one (layer, KV head). Used wherever a method keeps tokens in FP16: the fp16 format of
// TokenStore, KIVI's key residual and value window (which cover different token ranges, hence one-sided), the FP16
// buffers of incomplete per-channel groups and ZipCache's decode buffer.
// Bytes: size() · D · 2 — the held rows (the vector may hold spare capacity while it grows).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp::rt::kv {

class HalfRows {
 public:
  HalfRows() = default;
  explicit HalfRows(int head_dim) : D_(head_dim) {}
  int head_dim() const { return D_; }
  int64_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

  // Appends n rows (row i at x + i·stride), rounded to FP16 (round to nearest even).
  void append(const float* x, int64_t stride, int64_t n);
  // Overwrites row t with x (D floats).
  void set(int64_t t, const float* x);
  // Keeps rows idx[0..n) in that order (idx ascending, unique): a stable compaction in place.
  void keep(const int32_t* idx, int64_t n);
  // Drops the first n rows (the oldest, for sliding windows).
  void erase_front(int64_t n);
  void clear() { n_ = 0; data_.clear(); }
  void reserve(int64_t rows) { data_.reserve((size_t)rows * D_); }

  const uint16_t* data() const { return data_.data(); }
  const uint16_t* row(int64_t t) const { return data_.data() + (size_t)t * D_; }
  // Rows [t0, t0 + n) as F32 (row i at x + i·stride).
  void read(int64_t t0, int64_t n, float* x, int64_t stride) const;
  size_t bytes() const { return (size_t)n_ * D_ * 2; }

 private:
  int D_ = 0;
  int64_t n_ = 0;
  std::vector<uint16_t> data_;
};

}  // namespace bp::rt::kv
