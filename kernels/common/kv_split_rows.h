#pragma once
// Tokens of one side (keys or values) held in up to three forms, read through one function: tokens [0, P1) in a
// packed store (any layout of kv_layout.h), [P1, P1 + P2) in a second packed store (ZipCache's low-precision
// class; P2 = 0 when unused), and the rest as IEEE-half rows. The device form of the CPU's split stores
// (rt::kv::SplitSide: KIVI's residual window, per-channel groups still filling; ZipCache's two classes + FP16
// decode buffer): the CUDA attention and observation kernels read every token through split_rows_get, so one
// launch covers a range whose tokens are in different forms, with no F32 copy and no merging of partial states.
// Attention does not depend on token order, so the classes need not be in time order.
#include <cstdint>

#include "kernels/common/fp16.h"
#include "kernels/common/hd.h"
#include "kernels/common/kv_layout.h"

namespace bp::kern {

struct SplitRowsRef {
  PackedKv packed;                // tokens [0, P1); its layout gives head_dim and role
  PackedKv packed2;               // tokens [P1, P1 + P2); tokens 0 when unused
  const uint16_t* f16 = nullptr;  // token P1 + P2 + i at f16 + i·f16_stride (halves); null without FP16 rows
  int64_t f16_stride = 0;
  int64_t f16_rows = 0;
  int64_t tokens() const { return packed.tokens + packed2.tokens + f16_rows; }
};

// Element (t, d) as F32: dequantized (norms included) when packed, converted when FP16.
BP_HD float split_rows_get(const SplitRowsRef& r, int64_t t, int d) {
  if (t < r.packed.tokens) return kv_dequant(r.packed, t, d);
  t -= r.packed.tokens;
  if (t < r.packed2.tokens) return kv_dequant(r.packed2, t, d);
  return f16_to_f32(r.f16[(t - r.packed2.tokens) * r.f16_stride + d]);
}

}  // namespace bp::kern
