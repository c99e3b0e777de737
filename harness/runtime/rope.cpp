#include "harness/runtime/rope.h"

#include <cmath>

#include "kernels/common/rope_math.h"

namespace bp::rt {

Rope::Rope(const ModelConfig& cfg) : head_dim_(cfg.head_dim) {
  const int half = head_dim_ / 2;
  const int rope_dim = cfg.rope_dim > 0 ? cfg.rope_dim : head_dim_;
  inv_freq_.resize(half);
  for (int j = 0; j < half; ++j) {
    // As transformers computes it: base^(-2j/dim) in float32.
    inv_freq_[j] = 1.0f / std::pow(cfg.rope_theta, (float)(2 * j) / (float)rope_dim);
  }
  const RopeScaling& rs = cfg.rope_scaling;
  if (rs.factor > 0.0f) {
    // Llama-3 frequency-dependent scaling: long wavelengths are divided by `factor`, short ones kept, and the band
    // between is interpolated smoothly.
    const float low_wavelen = rs.original_max_position / rs.low_freq_factor;
    const float high_wavelen = rs.original_max_position / rs.high_freq_factor;
    for (int j = 0; j < half; ++j) {
      const float f = inv_freq_[j];
      const float wavelen = 2.0f * (float)M_PI / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        inv_freq_[j] = f / rs.factor;
      } else {
        const float smooth = (rs.original_max_position / wavelen - rs.low_freq_factor) /
                             (rs.high_freq_factor - rs.low_freq_factor);
        inv_freq_[j] = (1.0f - smooth) * f / rs.factor + smooth * f;
      }
    }
  }
}

void Rope::reserve(int64_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (n <= reserved_) return;
  int64_t cap = std::max<int64_t>(n, reserved_ * 2);
  cap = std::max<int64_t>(cap, 1024);
  const int half = head_dim_ / 2;
  cos_.resize(cap * half);
  sin_.resize(cap * half);
  for (int64_t p = reserved_; p < cap; ++p) {
    for (int j = 0; j < half; ++j) {
      // float32 angle as transformers computes it (position * inv_freq in float32), then cos/sin.
      const float angle = (float)p * inv_freq_[j];
      cos_[p * half + j] = std::cos(angle);
      sin_[p * half + j] = std::sin(angle);
    }
  }
  reserved_ = cap;
}

void Rope::rotate(float* x, int n_heads, int64_t pos) const {
  if (pos >= reserved_) reserve(pos + 1);
  const float* c = cos(pos);
  const float* s = sin(pos);
  for (int h = 0; h < n_heads; ++h) kern::rope_rotate_head(x + (int64_t)h * head_dim_, head_dim_, c, s);
}

}  // namespace bp::rt
