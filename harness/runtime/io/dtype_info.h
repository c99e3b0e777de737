#pragma once
// Storage geometry of the supported tensor types: elements per block and bytes per block. Quantized types store
// whole blocks along the innermost dimension, so a row's byte size is (row_elements / block) * block_bytes.
#include <cstdint>
#include <optional>
#include <string>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

struct DTypeInfo {
  int64_t block;        // elements per block (1 for float types)
  int64_t block_bytes;  // bytes per block
};

DTypeInfo dtype_info(DType t);
// The DType for a ggml type id, or nullopt when the id is not one we can dequantize.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
// ggml's name for a type id (also for types we do not support), for error messages: "Q5_K", "type 99", ...
std::string ggml_type_name(uint32_t ggml_type);
// Parses "F32", "f16", "q4_1", ... (case-insensitive); nullopt when unknown.
std::optional<DType> dtype_from_name(const std::string& name);

// Bytes of a tensor with `numel` elements whose innermost dimension is `row`. Returns false when the row is not a
// whole number of blocks or the size overflows.
bool dtype_nbytes(DType t, uint64_t row, uint64_t numel, uint64_t* nbytes);

}  // namespace bp::rt
