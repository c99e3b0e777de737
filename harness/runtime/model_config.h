#pragma once
// The architecture hyper-parameters of a Llama-family model, read from GGUF metadata or a Hugging Face config.json
// (harness/runtime/io/model_file.h). Everything the forward pass needs and nothing about the file it came from.
#include <cstdint>
#include <string>

namespace bp::rt {

// Llama-3 style frequency-dependent RoPE scaling ("rope_type": "llama3" in config.json). factor == 0 means none.
struct RopeScaling {
  float factor = 0.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 8192;
};

struct ModelConfig {
  std::string architecture;  // "llama", "mistral", "qwen2", ... (all Llama-family: RMSNorm, RoPE, GQA, SwiGLU)
  int n_layers = 0;
  int d_model = 0;
  int n_heads = 0;      // query heads
  int n_kv_heads = 0;   // key/value heads (GQA when < n_heads)
  int head_dim = 0;     // usually d_model / n_heads
  int d_ff = 0;         // SwiGLU hidden size
  int vocab_size = 0;
  int max_context = 0;  // trained context length (informational; longer contexts are allowed)
  float rope_theta = 10000.0f;
  int rope_dim = 0;     // rotary dimensions per head (== head_dim for the supported family)
  RopeScaling rope_scaling;
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;  // output projection shares the token embedding matrix
  bool attn_bias = false;        // q/k/v projections have biases (Qwen2)

  int group_size() const { return n_heads / n_kv_heads; }
  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

}  // namespace bp::rt
