#pragma once
// Writing GGUF version 3 files: metadata key/values (copied verbatim from a parsed file, or built here), tensor infos
// and the aligned data section. Tensor data is produced one tensor at a time by a callback, so converting a model
// never holds more than one dequantized tensor in memory.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/model_file.h"

namespace bp::rt {

class GgufWriter {
 public:
  // Metadata, in the order added. A key added twice replaces the earlier value in place.
  void add_raw(const GgufKv& kv);  // a value exactly as another GGUF file encoded it
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);

  // A tensor of shape `ne` (ggml order: ne[0] innermost) stored as `type`; `fill` writes exactly its byte size.
  using Fill = std::function<void(uint8_t* dst, size_t nbytes)>;
  void add_tensor(const std::string& name, const std::vector<uint64_t>& ne, DType type, Fill fill);

  // Alignment of the data section and of every tensor (general.alignment, when added, must agree).
  void set_alignment(uint64_t a) { alignment_ = a; }

  // Writes the file (to `path`.tmp, renamed when complete). Throws InputError naming `path` on I/O failure.
  void write(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    std::string value;  // encoded bytes after the type tag
  };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;
    DType type;
    uint64_t nbytes;
    Fill fill;
  };
  void put(std::string key, uint32_t type, std::string value);
  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace bp::rt
