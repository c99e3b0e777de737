#include "harness/runtime/cuda/device_half_rows.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

void DeviceHalfRows::append(const float* x, int64_t x_stride, int n, void* stream) {
  if (n <= 0) return;
  if (begin_ + n_ + n > cap_) {
    // Compact the live rows to the start of a buffer with room for twice what will be held.
    const int64_t cap = std::max<int64_t>(256, 2 * (n_ + n));
    kc::DeviceBuffer nb((size_t)cap * D_ * 2);
    if (n_ > 0) kc::memcpy_d2d(nb.get(), rows(), bytes(), stream);
    kc::stream_sync(stream);  // the old buffer is freed below
    buf_ = std::move(nb);
    begin_ = 0;
    cap_ = cap;
  }
  kc::to_f16_strided(x, x_stride, n, D_, buf_.as<uint16_t>() + (begin_ + n_) * D_, D_, stream);
  n_ += n;
}

void DeviceHalfRows::erase_front(int64_t n) {
  if (n < 0 || n > n_) throw std::out_of_range("DeviceHalfRows::erase_front: more rows than held");
  begin_ += n;
  n_ -= n;
  if (n_ == 0) begin_ = 0;
}

}  // namespace bp::rt::cuda
