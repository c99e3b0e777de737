#pragma once
// Converting a checkpoint (GGUF of any supported type, or a Hugging Face directory) to an unquantized GGUF file that
// llama.cpp reads: 2-D weights as F32 or F16, 1-D tensors (norms, biases) as F32, attn_q/attn_k rows in llama.cpp's
// RoPE order for "llama" files. From GGUF, every metadata key is kept (general.file_type updated); from Hugging
// Face, llama.cpp's keys are written from the config and tokenizer.
#include <string>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

struct ConvertStats {
  int tensors = 0;
  uint64_t bytes_written = 0;
};

// `to` must be DType::F32 or DType::F16. Throws InputError for unreadable input, an unsupported target type or an
// unwritable output.
ConvertStats convert_to_gguf(const std::string& in, const std::string& out, DType to);

// Rows of a canonical (Hugging Face order) q/k projection rearranged into llama.cpp's interleaved-RoPE order: the
// inverse of what dequantize_tensor does for unpermute_heads. `rows` = n_heads * head_dim.
void permute_rows_to_llama(const float* canonical, float* llama, int64_t rows, int64_t cols, int n_heads);

}  // namespace bp::rt
