#pragma once
// The model's rotary embedding: inverse frequencies (with Llama-3 scaling when configured) and a cos/sin table
// grown on demand. Caches use it to rotate queries and keys at the positions they choose.
#include <cstdint>
#include <mutex>
#include <vector>

#include "harness/runtime/model_config.h"

namespace bp::rt {

class Rope {
 public:
  explicit Rope(const ModelConfig& cfg);
  int head_dim() const { return head_dim_; }
  const std::vector<float>& inv_freq() const { return inv_freq_; }

  // Makes positions [0, n) available to cos()/sin(). Call before parallel regions; thread-safe.
  void reserve(int64_t n) const;
  // cos/sin rows for one position: head_dim/2 floats each. Position must be < reserved().
  const float* cos(int64_t pos) const { return cos_.data() + pos * (head_dim_ / 2); }
  const float* sin(int64_t pos) const { return sin_.data() + pos * (head_dim_ / 2); }
  int64_t reserved() const { return reserved_; }

  // Rotates n_heads consecutive head vectors x[n_heads][head_dim] at position pos (reserves as needed: not for
  // use inside parallel regions unless reserve() covered pos).
  void rotate(float* x, int n_heads, int64_t pos) const;

 private:
  int head_dim_;
  std::vector<float> inv_freq_;
  mutable std::vector<float> cos_, sin_;
  mutable int64_t reserved_ = 0;
  mutable std::mutex mu_;
};

}  // namespace bp::rt
