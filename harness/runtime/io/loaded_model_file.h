#pragma once
// The one ModelFile implementation: both the GGUF and the Hugging Face readers fill it. It owns the mappings the
// TensorRefs point into, so tensors stay valid for the object's lifetime.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

class LoadedModelFile final : public ModelFile {
 public:
  const ModelConfig& config() const override { return config_; }
  const ModelFileInfo& info() const override { return info_; }
  const TokenizerData& tokenizer() const override { return tokenizer_; }
  const TensorRef* find(const std::string& canonical_name) const override {
    auto it = tensors_.find(canonical_name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> tensor_names() const override { return order_; }

  // Adds a tensor; the caller checked the name is new (duplicates are an InputError at the call site).
  void add(TensorRef t) {
    order_.push_back(t.name);
    std::string key = t.name;
    tensors_.emplace(std::move(key), std::move(t));
  }

  ModelConfig config_;
  ModelFileInfo info_;
  TokenizerData tokenizer_;
  std::vector<std::shared_ptr<const void>> owners_;  // mappings (or a fuzzer's buffer) the tensors point into

 private:
  std::map<std::string, TensorRef> tensors_;
  std::vector<std::string> order_;  // file order
};

}  // namespace bp::rt
