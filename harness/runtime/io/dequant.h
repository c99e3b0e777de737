#pragma once
// Block dequantization of the supported GGUF/safetensors storage types to F32 (the public entry point,
// dequantize_tensor, is declared in model_file.h).
#include <cstdint>
#include <vector>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

// Dequantizes n elements (a whole number of blocks of type t) from src to dst.
void dequantize_row(DType t, const uint8_t* src, float* dst, int64_t n);

// Row permutation between llama.cpp's interleaved-RoPE order and the Hugging Face (rotate_half) order for a
// [n_heads * head_dim, cols] projection: within each head, HF row p*(head_dim/2) + i is stored by llama.cpp's
// converter at row 2*i + p. Returns, for every canonical (HF) row, the row it has in llama.cpp's order.
std::vector<int64_t> llama_rope_row_order(int64_t rows, int n_heads);

}  // namespace bp::rt
