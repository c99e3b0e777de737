#include "harness/runtime/kv/half_rows.h"

#include <cstring>
#include <stdexcept>

#include "kernels/common/buffer_capacity.h"
#include "kernels/cpu/fp16_convert.h"

namespace bp::rt::kv {

void HalfRows::append(const float* x, int64_t stride, int64_t n) {
  if (n <= 0) return;
  kern::resize_bounded(data_, (size_t)(n_ + n) * D_, quantum());
  for (int64_t i = 0; i < n; ++i)
    kern::f32_to_f16_array(x + i * stride, data_.data() + (size_t)(n_ + i) * D_, (size_t)D_);
  n_ += n;
}

void HalfRows::set(int64_t t, const float* x) {
  if (t < 0 || t >= n_) throw std::out_of_range("HalfRows::set: row outside the buffer");
  kern::f32_to_f16_array(x, data_.data() + (size_t)t * D_, (size_t)D_);
}

void HalfRows::keep(const int32_t* idx, int64_t n) {
  int64_t prev = -1;
  for (int64_t j = 0; j < n; ++j) {
    if (idx[j] <= prev || idx[j] >= n_) throw std::invalid_argument("HalfRows::keep: indices must ascend within the buffer");
    prev = idx[j];
    // idx[j] >= j, so a forward copy never overwrites a row still to be read.
    if (idx[j] != j) std::memmove(data_.data() + (size_t)j * D_, data_.data() + (size_t)idx[j] * D_, (size_t)D_ * 2);
  }
  n_ = n;
  kern::resize_bounded(data_, (size_t)n_ * D_, quantum());  // gives back what eviction freed
}

void HalfRows::erase_front(int64_t n) {
  if (n < 0 || n > n_) throw std::out_of_range("HalfRows::erase_front: more rows than held");
  if (n == 0) return;
  data_.erase(data_.begin(), data_.begin() + (size_t)n * D_);
  n_ -= n;
  kern::shrink_bounded(data_, quantum());
}

void HalfRows::clear() {
  n_ = 0;
  kern::clear_and_release(data_);
}

void HalfRows::reserve(int64_t rows) {
  if ((size_t)rows * D_ > data_.capacity()) kern::set_capacity(data_, (size_t)rows * D_);
}

void HalfRows::read(int64_t t0, int64_t n, float* x, int64_t stride) const {
  if (t0 < 0 || n < 0 || t0 + n > n_) throw std::out_of_range("HalfRows::read: rows outside the buffer");
  for (int64_t i = 0; i < n; ++i) kern::f16_to_f32_array(row(t0 + i), x + i * stride, (size_t)D_);
}

}  // namespace bp::rt::kv
