#pragma once
// One growable packed store (kernels/common/kv_layout.h) in device memory: codes, FP16 scales and mins for up to
// capacity() tokens. The tokens held are the owner's count (a view is taken for a token count); growing keeps every
// byte at its offset, since both layouts append key tiles and value rows at the end.
#include <cstdint>

#include "kernels/common/kv_layout.h"
#include "kernels/cuda/kv_cuda.h"

namespace bp::rt::cuda {

class DevicePackedStore {
 public:
  explicit DevicePackedStore(const kern::KvLayout& layout);  // throws std::invalid_argument on an invalid layout
  const kern::KvLayout& layout() const { return layout_; }
  int64_t capacity() const { return cap_; }
  // Makes room for `tokens` tokens, copying the old contents on `stream`. Growth is bounded
  // (kernels/common/buffer_capacity.h: 1/8 over the capacity, in whole 64-token tiles), not doubling, so the
  // allocated bytes stay close to what the tokens need.
  void reserve(int64_t tokens, void* stream);
  // Bytes of the three device buffers as allocated (capacity() tokens).
  size_t allocated() const { return codes_.size() + scales_.size() + mins_.size(); }
  kern::PackedKvMut mut(int64_t tokens) const;
  kern::PackedKv view(int64_t tokens) const { return mut(tokens).view(); }

 private:
  kern::KvLayout layout_;
  kern::cuda::DeviceBuffer codes_, scales_, mins_;
  int64_t cap_ = 0;
};

}  // namespace bp::rt::cuda
