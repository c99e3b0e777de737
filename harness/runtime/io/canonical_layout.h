#pragma once
// The canonical tensor set of a Llama-family model (names and shapes listed in model_file.h), checked against a
// ModelConfig so the forward pass can trust every shape it reads.
#include <string>
#include <vector>

#include "harness/runtime/io/model_file.h"

namespace bp::rt {

// Expected canonical shape of `name` under `cfg`; empty when the name is not part of the layout (or is excluded by
// the config, e.g. "output" when embeddings are tied, biases when attn_bias is false).
std::vector<int64_t> canonical_shape(const ModelConfig& cfg, const std::string& name);

// All canonical names the config requires, in a stable order.
std::vector<std::string> canonical_names(const ModelConfig& cfg);

// Checks the config values are positive, consistent and small enough for int arithmetic. Throws InputError(file, ...).
void validate_config(const ModelConfig& cfg, const std::string& file);

// Checks that exactly the required tensors are present with their canonical shapes. Throws InputError(file, ...).
void validate_layout(const ModelFile& mf, const std::string& file);

}  // namespace bp::rt
