#pragma once
// GGUF container parsing (versions 2 and 3, little-endian): header, metadata key/values, tensor infos, data section.
// The parser works on a byte buffer (a memory-mapped file, or a fuzzer's input) and checks every count, length,
// offset and size against the buffer before reading, so any corruption becomes a bp::InputError naming the file.
// Values are kept as views into the buffer; the accessors below decode them on demand (vocabularies are large).
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bp::rt {

// GGUF metadata value types (the numbering of the GGUF specification).
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufKv {
  std::string key;
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;  // arrays only
  uint64_t count = 0;                 // arrays only: number of elements
  // The encoded value as stored after the type tag (for arrays: element type, count, elements). Points into the
  // parsed buffer; the writer copies it verbatim to keep metadata bit-exact.
  const uint8_t* raw = nullptr;
  size_t raw_size = 0;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] is the innermost (contiguous) dimension
  uint32_t ggml_type = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;
};

struct GgufFile {
  std::string file;  // for error messages
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;             // absolute offset of the data section
  std::vector<GgufKv> kvs;              // in file order
  std::vector<GgufTensorInfo> tensors;  // in file order

  const GgufKv* find(std::string_view key) const;
};

// Parses and validates the container. Tensor types must be ones we can dequantize (DType); each tensor's byte
// range must lie inside the buffer, be aligned, and not overlap another. Throws bp::InputError.
GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& file);

// ---- typed access to metadata values (all throw bp::InputError naming file and key on a type mismatch) ----------
// Any integer type (and bool) that fits in the target.
int64_t gguf_int(const GgufFile& f, const GgufKv& kv);
uint64_t gguf_uint(const GgufFile& f, const GgufKv& kv);
double gguf_float(const GgufFile& f, const GgufKv& kv);  // F32/F64 or any integer
bool gguf_bool(const GgufFile& f, const GgufKv& kv);
std::string gguf_string(const GgufFile& f, const GgufKv& kv);
std::vector<std::string> gguf_string_array(const GgufFile& f, const GgufKv& kv);
std::vector<int64_t> gguf_int_array(const GgufFile& f, const GgufKv& kv);
// A JSON view of one value: numbers, bools, strings (invalid UTF-8 replaced by U+FFFD), arrays. Arrays longer than
// max_array elements become {"type": ..., "count": n, "elided": true}.
nlohmann::json gguf_to_json(const GgufKv& kv, size_t max_array);

// Bytes of one encoded scalar of type t (0 for STRING / ARRAY, which have variable size).
size_t gguf_scalar_size(GgufType t);

}  // namespace bp::rt
