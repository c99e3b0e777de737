#include "harness/runtime/io/hf_config.h"

#include <fmt/format.h>

#include <climits>

#include "harness/common/error.h"
#include "harness/runtime/io/float_field.h"
#include "harness/runtime/io/json_file.h"

namespace bp::rt {

namespace {

int req_int(const nlohmann::json& j, const char* key, const std::string& file) {
  auto v = json_opt_int(j, key, file, "", 1, INT_MAX);
  if (!v) throw InputError(file, json_pointer_append("", key), "expected a positive integer, got none");
  return static_cast<int>(*v);
}

// RoPE base and scaling live at the top level (transformers 4.x) or under "rope_parameters" (5.x).
void read_rope(const nlohmann::json& j, const std::string& file, ModelConfig& c) {
  const nlohmann::json* params = &j;
  std::string base;
  if (auto it = j.find("rope_parameters"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw InputError(file, "/rope_parameters", "expected an object");
    params = &*it;
    base = "/rope_parameters";
  }
  c.rope_theta =
      float_field(json_opt_number(*params, "rope_theta", file, base).value_or(10000.0), file, base + "/rope_theta");

  const nlohmann::json* scaling = nullptr;
  std::string sbase;
  if (params != &j) {
    scaling = params;  // rope_parameters holds rope_type and its factors directly
    sbase = base;
  } else if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw InputError(file, "/rope_scaling", "expected an object or null");
    scaling = &*it;
    sbase = "/rope_scaling";
  }
  if (!scaling) return;
  auto type = json_opt_string(*scaling, "rope_type", file, sbase);
  if (!type) type = json_opt_string(*scaling, "type", file, sbase);
  if (!type || *type == "default") return;
  if (*type != "llama3")
    throw InputError(file, sbase + "/rope_type",
                     fmt::format("expected 'default' or 'llama3' RoPE scaling, got '{}' (unsupported)", *type));
  auto need = [&](const char* key) {
    auto v = json_opt_number(*scaling, key, file, sbase);
    if (!v)
      throw InputError(file, json_pointer_append(sbase, key), "expected a number for llama3 RoPE scaling, got none");
    return float_field(*v, file, json_pointer_append(sbase, key));
  };
  c.rope_scaling.factor = need("factor");
  c.rope_scaling.low_freq_factor = need("low_freq_factor");
  c.rope_scaling.high_freq_factor = need("high_freq_factor");
  auto orig = json_opt_int(*scaling, "original_max_position_embeddings", file, sbase, 1, INT_MAX);
  if (!orig)
    throw InputError(file, sbase + "/original_max_position_embeddings",
                     "expected an integer for llama3 RoPE scaling, got none");
  c.rope_scaling.original_max_position = static_cast<int>(*orig);
}

}  // namespace

ModelConfig hf_model_config(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object()) throw InputError(file, "", "expected a JSON object");
  auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->size() != 1 || !(*archs)[0].is_string())
    throw InputError(file, "/architectures", "expected an array with one architecture name");
  const std::string arch = (*archs)[0].get<std::string>();
  ModelConfig c;
  if (arch == "LlamaForCausalLM")
    c.architecture = "llama";
  else if (arch == "MistralForCausalLM")
    c.architecture = "mistral";
  else if (arch == "Qwen2ForCausalLM")
    c.architecture = "qwen2";
  else
    throw InputError(file, "/architectures/0",
                     fmt::format("expected a Llama-family architecture (LlamaForCausalLM, MistralForCausalLM, "
                                 "Qwen2ForCausalLM), got '{}', which is not supported",
                                 arch));

  c.n_layers = req_int(j, "num_hidden_layers", file);
  c.d_model = req_int(j, "hidden_size", file);
  c.d_ff = req_int(j, "intermediate_size", file);
  c.n_heads = req_int(j, "num_attention_heads", file);
  c.vocab_size = req_int(j, "vocab_size", file);
  c.n_kv_heads = static_cast<int>(json_opt_int(j, "num_key_value_heads", file, "", 1, INT_MAX).value_or(c.n_heads));
  c.head_dim = static_cast<int>(json_opt_int(j, "head_dim", file, "", 1, INT_MAX).value_or(c.d_model / c.n_heads));
  c.rope_dim = c.head_dim;
  c.max_context = static_cast<int>(json_opt_int(j, "max_position_embeddings", file, "", 0, INT_MAX).value_or(0));
  c.rms_eps = float_field(json_opt_number(j, "rms_norm_eps", file, "").value_or(1e-6), file, "/rms_norm_eps");
  c.tied_embeddings = json_opt_bool(j, "tie_word_embeddings", file, "").value_or(false);
  read_rope(j, file, c);

  if (auto act = json_opt_string(j, "hidden_act", file, ""); act && *act != "silu")
    throw InputError(file, "/hidden_act", fmt::format("expected 'silu' (SwiGLU), got '{}'", *act));
  if (json_opt_bool(j, "mlp_bias", file, "").value_or(false))
    throw InputError(file, "/mlp_bias", "expected false (MLP biases are not supported), got true");
  if (c.architecture == "qwen2") {
    c.attn_bias = true;  // Qwen2 always has q/k/v biases and none on o_proj
    if (json_opt_bool(j, "use_sliding_window", file, "").value_or(false))
      throw InputError(file, "/use_sliding_window",
                       "expected false (sliding-window attention is not supported), got true");
  } else if (json_opt_bool(j, "attention_bias", file, "").value_or(false)) {
    // Llama's attention_bias also puts a bias on o_proj, which the canonical layout has no place for.
    throw InputError(file, "/attention_bias",
                     "expected false (attention biases on o_proj are not supported), got true");
  }
  if (c.architecture == "mistral") {
    // MistralConfig's default window is 4096 when the key is absent; null turns it off.
    const auto it = j.find("sliding_window");
    if (it == j.end() || !it->is_null())
      throw InputError(file, "/sliding_window",
                       fmt::format("expected null (sliding-window attention is not supported), got {}",
                                   it == j.end() ? std::string("the default 4096") : it->dump()));
  }
  return c;
}

std::string hf_canonical_name(const std::string& n) {
  if (n == "model.embed_tokens.weight") return "tok_embd";
  if (n == "model.norm.weight") return "output_norm";
  if (n == "lm_head.weight") return "output";
  const std::string pre = "model.layers.";
  if (n.rfind(pre, 0) != 0) return {};
  const size_t dot = n.find('.', pre.size());
  if (dot == std::string::npos) return {};
  const std::string layer = n.substr(pre.size(), dot - pre.size());
  const std::string rest = n.substr(dot + 1);
  static const std::pair<const char*, const char*> kMap[] = {
      {"input_layernorm.weight", "attn_norm"},    {"self_attn.q_proj.weight", "attn_q"},
      {"self_attn.k_proj.weight", "attn_k"},      {"self_attn.v_proj.weight", "attn_v"},
      {"self_attn.o_proj.weight", "attn_output"}, {"post_attention_layernorm.weight", "ffn_norm"},
      {"mlp.gate_proj.weight", "ffn_gate"},       {"mlp.up_proj.weight", "ffn_up"},
      {"mlp.down_proj.weight", "ffn_down"},       {"self_attn.q_proj.bias", "attn_q_bias"},
      {"self_attn.k_proj.bias", "attn_k_bias"},   {"self_attn.v_proj.bias", "attn_v_bias"},
  };
  for (const auto& [hf, canon] : kMap)
    if (rest == hf) return "blk." + layer + "." + canon;
  return {};
}

std::string hf_file_name(const std::string& c) {
  if (c == "tok_embd") return "model.embed_tokens.weight";
  if (c == "output_norm") return "model.norm.weight";
  if (c == "output") return "lm_head.weight";
  const size_t dot = c.find('.', 4);
  if (c.rfind("blk.", 0) != 0 || dot == std::string::npos) return {};
  const std::string layer = c.substr(4, dot - 4);
  const std::string rest = c.substr(dot + 1);
  static const std::pair<const char*, const char*> kMap[] = {
      {"attn_norm", "input_layernorm.weight"},    {"attn_q", "self_attn.q_proj.weight"},
      {"attn_k", "self_attn.k_proj.weight"},      {"attn_v", "self_attn.v_proj.weight"},
      {"attn_output", "self_attn.o_proj.weight"}, {"ffn_norm", "post_attention_layernorm.weight"},
      {"ffn_gate", "mlp.gate_proj.weight"},       {"ffn_up", "mlp.up_proj.weight"},
      {"ffn_down", "mlp.down_proj.weight"},       {"attn_q_bias", "self_attn.q_proj.bias"},
      {"attn_k_bias", "self_attn.k_proj.bias"},   {"attn_v_bias", "self_attn.v_proj.bias"},
  };
  for (const auto& [canon, hf] : kMap)
    if (rest == canon) return "model.layers." + layer + "." + hf;
  return {};
}

bool hf_ignorable(const std::string& n, bool tied) {
  if (tied && n == "lm_head.weight") return true;
  const std::string suffix = ".self_attn.rotary_emb.inv_freq";
  return n.rfind("model.layers.", 0) == 0 && n.size() > suffix.size() &&
         n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace bp::rt
