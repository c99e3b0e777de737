#pragma once
// safetensors container parsing: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}), then the data
// buffer the offsets index. Works on a byte buffer (memory-mapped shard or fuzzer input); every offset is checked
// against the buffer, byte sizes against dtype x shape, and ranges against each other.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;   // outermost first (row-major), as stored
  uint64_t begin = 0, end = 0;  // relative to the data buffer
  const uint8_t* data = nullptr;
};

struct SafetensorsFile {
  std::string file;
  uint64_t data_offset = 0;                            // absolute offset of the data buffer (8 + N)
  std::vector<SafetensorsTensor> tensors;              // in header (key) order
  nlohmann::json metadata = nlohmann::json::object();  // "__metadata__" (string -> string), empty when absent
};

// Only the float dtypes a Llama checkpoint uses (F32, F16, BF16) are accepted; others are rejected by name.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& file);

}  // namespace bp::rt
