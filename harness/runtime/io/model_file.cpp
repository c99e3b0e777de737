// ModelFile::open dispatches on what the path is: a directory is a Hugging Face checkpoint, a file must be GGUF.
#include "harness/runtime/io/model_file.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "harness/common/error.h"
#include "harness/runtime/io/gguf_model.h"
#include "harness/runtime/io/hf_model.h"

namespace bp::rt {

std::unique_ptr<ModelFile> ModelFile::open(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st))
    throw InputError(path, "",
                     "expected a GGUF file or a Hugging Face checkpoint directory, got a path that does not exist");
  if (fs::is_directory(st)) return open_hf_dir(path);
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return open_gguf(path);
  throw InputError(path, "",
                   "expected a GGUF file (starting with 'GGUF') or a Hugging Face checkpoint directory (config.json + "
                   "*.safetensors), got another kind of file");
}

const TensorRef& ModelFile::get(const std::string& canonical_name) const {
  if (const TensorRef* t = find(canonical_name)) return *t;
  throw InputError(info().path, fmt::format("tensor '{}'", canonical_name), "expected this tensor, got none");
}

}  // namespace bp::rt
