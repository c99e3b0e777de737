#include "harness/runtime/io/hf_model.h"

#include "harness/core/error.h"

namespace bp::rt {

std::unique_ptr<ModelFile> open_hf_dir(const std::string& dir) {
  throw InputError(dir, "", "Hugging Face directories: loader in progress");
}

}  // namespace bp::rt
