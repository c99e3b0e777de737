#pragma once
// Hugging Face config.json -> ModelConfig, and Hugging Face tensor names -> canonical names.
#include <nlohmann/json.hpp>
#include <string>

#include "harness/runtime/model_config.h"

namespace bp::rt {

// Supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM. Throws InputError naming the file and the
// offending field (architecture, activation, sliding window, RoPE scaling type, ...). Not yet validate_config'ed.
ModelConfig hf_model_config(const nlohmann::json& cfg, const std::string& file);

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q", "...q_proj.bias" -> "blk.3.attn_q_bias", etc.
// Empty for names outside the layout.
std::string hf_canonical_name(const std::string& hf_name);
// The inverse (for writers and tests).
std::string hf_file_name(const std::string& canonical_name);
// Tensors a checkpoint may carry that the model does not read: RoPE inverse-frequency buffers (recomputed from
// the config) and, with tied embeddings, a stored copy of lm_head.
bool hf_ignorable(const std::string& hf_name, bool tied_embeddings);

}  // namespace bp::rt
