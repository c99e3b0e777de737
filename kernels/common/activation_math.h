#pragma once
// Per-element math of the forward pass shared by the CPU reference kernels and the CUDA kernels.
#include <cmath>

#include "kernels/common/hd.h"

namespace bp::kern {

// SwiGLU: silu(gate) * up = gate / (1 + exp(-gate)) * up.
BP_HD float swiglu_one(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

// RMSNorm scale for a row whose sum of squares over d elements is ss: 1 / sqrt(ss / d + eps).
BP_HD float rms_inv(float ss, int d, float eps) { return 1.0f / sqrtf(ss / (float)d + eps); }

}  // namespace bp::kern
