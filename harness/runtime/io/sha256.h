#pragma once
// SHA-256 of one or more byte ranges taken in order (a GGUF file, or safetensors shards in index order), via
// OpenSSL's EVP interface.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bp::rt {

struct ByteRange {
  const uint8_t* data;
  size_t size;
};

// Lowercase hex digest of the concatenation of the ranges.
std::string sha256_hex(const std::vector<ByteRange>& parts);

}  // namespace bp::rt
