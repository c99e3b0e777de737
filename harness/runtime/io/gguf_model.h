#pragma once
// Opening a GGUF checkpoint as a ModelFile.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

// Maps and opens the file at `path`.
std::unique_ptr<ModelFile> open_gguf(const std::string& path);

// Opens a GGUF image held in memory (a fuzzer's input, a test's hand-built file). `owner` keeps the bytes alive
// for the returned object's lifetime; `path` is what error messages and info().path name.
std::unique_ptr<ModelFile> open_gguf_buffer(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                            const std::string& path);

}  // namespace bp::rt
