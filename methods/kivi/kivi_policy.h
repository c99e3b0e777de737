#pragma once
// KIVI's quantization schedule (kivi.cpp has the whole algorithm), shared by the CPU and the CUDA cache so the two
// backends quantize exactly the same tokens: given the FP16 rows each side holds after a call, keys quantize every
// complete block of R (the residual empties), values every row beyond the last R.
#include <algorithm>
#include <cstdint>

namespace bp::methods::kivi {

struct KiviFlush {
  int64_t keys = 0, values = 0;
};

inline KiviFlush kivi_flush(int64_t key_fp16, int64_t value_fp16, int64_t residual) {
  return {key_fp16 / residual * residual, std::max<int64_t>(0, value_fp16 - residual)};
}

}  // namespace bp::methods::kivi
