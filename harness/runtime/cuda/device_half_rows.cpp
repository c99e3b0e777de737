#include "harness/runtime/cuda/device_half_rows.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cuda/model_ops.h"

namespace bp::rt::cuda {

namespace kc = bp::kern::cuda;

void DeviceHalfRows::append(const float* x, int64_t x_stride, int n, void* stream) {
  if (n <= 0) return;
  if (begin_ + n_ + n > cap_) {
    if (n_ + n <= cap_ && begin_ * 4 >= n_) {
      // Room enough once compacted: move the live rows to the front of the same buffer, in chunks of at most
      // begin_ rows so that no copy overlaps its source (at most 4 copies; no allocation).
      uint16_t* base = buf_.as<uint16_t>();
      for (int64_t done = 0; done < n_;) {
        const int64_t c = std::min(begin_, n_ - done);
        kc::memcpy_d2d(base + done * D_, base + (begin_ + done) * D_, (size_t)c * D_ * 2, stream);
        done += c;
      }
      begin_ = 0;
    } else {
      reallocate((int64_t)kern::grown_capacity((size_t)cap_, (size_t)(n_ + n), kRowQuantum), stream);
    }
  }
  kc::to_f16_strided(x, x_stride, n, D_, buf_.as<uint16_t>() + (begin_ + n_) * D_, D_, stream);
  n_ += n;
}

void DeviceHalfRows::erase_front(int64_t n, void* stream) {
  if (n < 0 || n > n_) throw std::out_of_range("DeviceHalfRows::erase_front: more rows than held");
  begin_ += n;
  n_ -= n;
  if (n_ == 0) begin_ = 0;
  if (kern::should_shrink((size_t)cap_, (size_t)n_, kRowQuantum))
    reallocate((int64_t)kern::round_up_elems((size_t)n_, kRowQuantum), stream);
}

void DeviceHalfRows::reallocate(int64_t cap, void* stream) {
  kc::DeviceBuffer nb((size_t)cap * D_ * 2);
  if (n_ > 0) kc::memcpy_d2d(nb.get(), rows(), bytes(), stream);
  kc::stream_sync(stream);  // the old buffer is freed below
  buf_ = std::move(nb);
  begin_ = 0;
  cap_ = cap;
}

}  // namespace bp::rt::cuda
