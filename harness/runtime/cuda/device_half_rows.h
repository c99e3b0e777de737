#pragma once
// FP16 rows of head_dim halves in device memory, appended at the back and removed from the front: the device twin
// of rt::kv::HalfRows (the FP16 part of a split store). Removing from the front moves a start index; the live rows
// are compacted to the start of a new buffer only when an append needs room.
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
  void erase_front(int64_t n);
  void clear() { begin_ = n_ = 0; }

 private:
  int D_;
  kern::cuda::DeviceBuffer buf_;
  int64_t begin_ = 0, n_ = 0, cap_ = 0;
};

}  // namespace bp::rt::cuda
