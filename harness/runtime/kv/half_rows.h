#pragma once
// HalfRows: a growing list of head_dim-wide rows stored as IEEE half (raw uint16_t bits), row t at data() + t·D.
// One side (keys OR values) of one (layer, KV head). Used wherever a method keeps tokens in FP16: the fp16 format of
// TokenStore, KIVI's key residual and value window (which cover different token ranges, hence one-sided), the FP16
// buffers of incomplete per-channel groups and ZipCache's decode buffer.
// Bytes: bytes() = size() · D · 2, the held rows; allocated() = the vector's capacity in bytes. Growth and shrink
// follow kernels/common/buffer_capacity.h in quanta of kRowQuantum rows, so the two stay close: no 2x growth slack,
// and a buffer that lost rows (keep, erase_front) gives the memory back. clear() frees everything.
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
  void clear();
  // Capacity for at least `rows` rows (exactly that many when it grows: a caller that knows its size).
  void reserve(int64_t rows);

  const uint16_t* data() const { return data_.data(); }
  const uint16_t* row(int64_t t) const { return data_.data() + (size_t)t * D_; }
  // Rows [t0, t0 + n) as F32 (row i at x + i·stride).
  void read(int64_t t0, int64_t n, float* x, int64_t stride) const;
  size_t bytes() const { return (size_t)n_ * D_ * 2; }
  size_t allocated() const { return data_.capacity() * sizeof(uint16_t); }

  // Rows per growth quantum. Small, because an FP16 buffer often sits beside a much smaller packed store (ZipCache's
  // decode buffer next to 2-bit codes: 16 spare FP16 rows would outweigh a third of it); the 1/8 geometric growth
  // keeps reallocations rare once the buffer is large.
  static constexpr size_t kRowQuantum = 4;

 private:
  int D_ = 0;
  size_t quantum() const { return kRowQuantum * (size_t)D_; }
  int64_t n_ = 0;
  std::vector<uint16_t> data_;
};

}  // namespace bp::rt::kv
