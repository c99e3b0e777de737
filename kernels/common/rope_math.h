#pragma once
// Rotary position embedding, Hugging Face "rotate_half" convention: dimension j (< D/2) pairs with j + D/2.
//   out[j]       = x[j] * cos(pos * f_j) - x[j + D/2] * sin(pos * f_j)
//   out[j + D/2] = x[j + D/2] * cos(pos * f_j) + x[j] * sin(pos * f_j)
#include <cmath>

#include "kernels/common/hd.h"

namespace bp::kern {

BP_HD void rope_rotate_pair(float& lo, float& hi, float c, float s) {
  const float a = lo, b = hi;
  lo = a * c - b * s;
  hi = b * c + a * s;
}

// Rotates one head vector x[D] in place with precomputed cos/sin for its position (cs[j], sn[j], j < D/2).
BP_HD void rope_rotate_head(float* x, int head_dim, const float* cs, const float* sn) {
  const int half = head_dim / 2;
  for (int j = 0; j < half; ++j) rope_rotate_pair(x[j], x[j + half], cs[j], sn[j]);
}

}  // namespace bp::kern
