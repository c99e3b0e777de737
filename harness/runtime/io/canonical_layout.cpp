#include "harness/runtime/io/canonical_layout.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "harness/common/error.h"

namespace bp::rt {

namespace {
// Splits "blk.{i}.{rest}" into (i, rest); false for other names or a malformed index.
bool split_block(const std::string& name, int* layer, std::string* rest) {
  if (name.rfind("blk.", 0) != 0) return false;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos || dot == 4) return false;
  const char* b = name.data() + 4;
  const char* e = name.data() + dot;
  if (*b == '0' && e - b > 1) return false;  // one spelling per index
  auto [p, ec] = std::from_chars(b, e, *layer);
  if (ec != std::errc() || p != e) return false;
  *rest = name.substr(dot + 1);
  return true;
}

// "[a, b]" (written out rather than with fmt::join, which trips a GCC 12 -Wstringop-overflow false positive).
std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

std::vector<int64_t> canonical_shape(const ModelConfig& c, const std::string& name) {
  const int64_t d = c.d_model, q = c.q_dim(), kv = c.kv_dim(), ff = c.d_ff, v = c.vocab_size;
  if (name == "tok_embd") return {v, d};
  if (name == "output_norm") return {d};
  if (name == "output") return c.tied_embeddings ? std::vector<int64_t>{} : std::vector<int64_t>{v, d};
  int layer = 0;
  std::string rest;
  if (!split_block(name, &layer, &rest) || layer < 0 || layer >= c.n_layers) return {};
  if (rest == "attn_norm" || rest == "ffn_norm") return {d};
  if (rest == "attn_q") return {q, d};
  if (rest == "attn_k" || rest == "attn_v") return {kv, d};
  if (rest == "attn_output") return {d, q};
  if (rest == "ffn_gate" || rest == "ffn_up") return {ff, d};
  if (rest == "ffn_down") return {d, ff};
  if (c.attn_bias) {
    if (rest == "attn_q_bias") return {q};
    if (rest == "attn_k_bias" || rest == "attn_v_bias") return {kv};
  }
  return {};
}

std::vector<std::string> canonical_names(const ModelConfig& c) {
  std::vector<std::string> out{"tok_embd"};
  for (int i = 0; i < c.n_layers; ++i) {
    for (const char* s :
         {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"})
      out.push_back(fmt::format("blk.{}.{}", i, s));
    if (c.attn_bias)
      for (const char* s : {"attn_q_bias", "attn_k_bias", "attn_v_bias"}) out.push_back(fmt::format("blk.{}.{}", i, s));
  }
  out.push_back("output_norm");
  if (!c.tied_embeddings) out.push_back("output");
  return out;
}

void validate_config(const ModelConfig& c, const std::string& file) {
  // Bounds keep every product the runtime forms (e.g. vocab * d_model, n_heads * head_dim) far from int overflow
  // while admitting any real Llama-family model.
  auto check = [&](const char* field, int64_t v, int64_t max) {
    if (v < 1 || v > max) throw InputError(file, field, fmt::format("expected an integer in 1..{}, got {}", max, v));
  };
  check("n_layers", c.n_layers, 1024);
  check("d_model", c.d_model, 1 << 16);
  check("n_heads", c.n_heads, 1024);
  check("n_kv_heads", c.n_kv_heads, 1024);
  check("head_dim", c.head_dim, 1024);
  check("d_ff", c.d_ff, 1 << 18);
  check("vocab_size", c.vocab_size, 1 << 22);
  if (c.n_heads % c.n_kv_heads != 0)
    throw InputError(file, "n_kv_heads",
                     fmt::format("expected a divisor of n_heads ({}), got {}", c.n_heads, c.n_kv_heads));
  if (c.head_dim % 2 != 0)
    throw InputError(file, "head_dim", fmt::format("expected an even number, got {}", c.head_dim));
  if (c.rope_dim != c.head_dim)
    throw InputError(file, "rope_dim",
                     fmt::format("expected rotary embedding over the whole head ({} dims), got {} (partial rotary "
                                 "embeddings are not supported)",
                                 c.head_dim, c.rope_dim));
  if (!(c.rope_theta > 0.0f) || !std::isfinite(c.rope_theta))
    throw InputError(file, "rope_theta", fmt::format("expected a positive finite number, got {}", c.rope_theta));
  if (!(c.rms_eps > 0.0f) || !std::isfinite(c.rms_eps))
    throw InputError(file, "rms_eps", fmt::format("expected a positive finite number, got {}", c.rms_eps));
  if (c.max_context < 0) throw InputError(file, "max_context", fmt::format("expected >= 0, got {}", c.max_context));
  const auto& rs = c.rope_scaling;
  if (rs.factor != 0.0f) {
    if (!(rs.factor >= 1.0f) || !std::isfinite(rs.factor) || !(rs.low_freq_factor > 0.0f) ||
        !(rs.high_freq_factor > rs.low_freq_factor) || !std::isfinite(rs.high_freq_factor) ||
        rs.original_max_position < 1)
      throw InputError(file, "rope_scaling",
                       fmt::format("expected factor >= 1, 0 < low_freq_factor < high_freq_factor and "
                                   "original_max_position_embeddings >= 1, got factor {}, low {}, high {}, original {}",
                                   rs.factor, rs.low_freq_factor, rs.high_freq_factor, rs.original_max_position));
  }
}

void validate_layout(const ModelFile& mf, const std::string& file) {
  const ModelConfig& c = mf.config();
  for (const auto& name : mf.tensor_names()) {
    const TensorRef* t = mf.find(name);
    const auto want = canonical_shape(c, name);
    if (want.empty())
      throw InputError(file, fmt::format("tensor '{}'", t->source_name),
                       fmt::format("expected only the tensors of a {}-layer Llama-family model{}{}, got '{}'",
                                   c.n_layers, c.tied_embeddings ? " with tied embeddings" : "",
                                   c.attn_bias ? " with attention biases" : " without attention biases", name));
    if (t->shape != want)
      throw InputError(file, fmt::format("tensor '{}'", t->source_name),
                       fmt::format("expected shape {}, got {}", shape_str(want), shape_str(t->shape)));
  }
  for (const auto& name : canonical_names(c))
    if (!mf.find(name))
      throw InputError(file, fmt::format("tensor '{}'", name), "expected this tensor in the checkpoint, got none");
}

}  // namespace bp::rt
