#pragma once
// FP16 rows of head_dim halves in device memory, appended at the back and removed from the front: the device twin
// of rt::kv::HalfRows (the FP16 part of a split store). Removing from the front moves a start index; the live rows
// are compacted to the start of a new buffer when an append needs room (bounded growth, buffer_capacity.h), or when
// erase_front left the buffer mostly empty (it shrinks, so a flushed window does not keep a prompt-sized buffer).
// bytes(): the held rows; allocated(): the buffer's size.
#include <cstdint>

#include "kernels/cuda/kv_cuda.h"

namespace bp::rt::cuda {

class DeviceHalfRows {
 public:
  explicit DeviceHalfRows(int head_dim) : D_(head_dim) {}
  int64_t size() const { return n_; }
  size_t bytes() const { return (size_t)n_ * D_ * 2; }
  // Row i (device), i < size(); rows are contiguous (stride head_dim).
  const uint16_t* rows() const { return buf_.as<uint16_t>() + begin_ * D_; }
  // Converts n F32 rows (device, row i at x + i·x_stride) to FP16 and appends them, ordered on `stream`.
  void append(const float* x, int64_t x_stride, int n, void* stream);
  // Drops the n oldest rows; shrinks the buffer (copy on `stream`) when most of it would be unused.
  void erase_front(int64_t n, void* stream);
  // Empties the rows (the buffer stays allocated for the next appends).
  void clear() { begin_ = n_ = 0; }
  size_t allocated() const { return buf_.size(); }
  static constexpr int64_t kRowQuantum = 4;  // rows; small for the reason given in rt::kv::HalfRows

 private:
  // Moves the live rows to the start of a new buffer of `cap` rows (>= n_), ordered on `stream`.
  void reallocate(int64_t cap, void* stream);
  int D_;
  kern::cuda::DeviceBuffer buf_;
  int64_t begin_ = 0, n_ = 0, cap_ = 0;
};

}  // namespace bp::rt::cuda
