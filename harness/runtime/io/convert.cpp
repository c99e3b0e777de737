#include "harness/runtime/io/convert.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "harness/common/error.h"
#include "harness/runtime/io/dequant.h"
#include "harness/runtime/io/gguf_config.h"
#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/gguf_writer.h"
#include "harness/runtime/io/half.h"
#include "harness/runtime/io/mapped_file.h"

namespace bp::rt {

namespace {

// llama.cpp's LLAMA_FTYPE values for unquantized files.
uint32_t file_type_of(DType t) { return t == DType::F16 ? 1u : 0u; }

// The tensor's heads count when its rows must go back to llama.cpp's order (the loader un-permuted them).
int repermute_heads(const TensorRef& t, const ModelConfig& c, bool llama_order) {
  if (!llama_order) return 0;
  auto ends = [&](const char* s) {
    const size_t k = std::strlen(s);
    return t.name.size() >= k && t.name.compare(t.name.size() - k, k, s) == 0;
  };
  if (ends(".attn_q") || ends(".attn_q_bias")) return c.n_heads;
  if (ends(".attn_k") || ends(".attn_k_bias")) return c.n_kv_heads;
  return 0;
}

// Produces one tensor's bytes in the output type: canonical F32, back to llama.cpp row order if needed, narrowed.
GgufWriter::Fill fill_for(const TensorRef& t, int heads, DType out) {
  return [&t, heads, out](uint8_t* dst, size_t nbytes) {
    const auto n = static_cast<size_t>(t.numel());
    std::vector<float> canon(n);
    dequantize_tensor(t, canon.data());
    std::vector<float> ordered;
    const float* src = canon.data();
    if (heads > 0) {
      ordered.resize(n);
      const int64_t rows = t.shape[0];
      permute_rows_to_llama(canon.data(), ordered.data(), rows, static_cast<int64_t>(n) / rows, heads);
      src = ordered.data();
    }
    if (out == DType::F32) {
      std::memcpy(dst, src, nbytes);
    } else {
      for (size_t i = 0; i < n; ++i) {
        const uint16_t h = float_to_half(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    }
  };
}

std::vector<uint64_t> ggml_ne(const TensorRef& t) { return std::vector<uint64_t>(t.shape.rbegin(), t.shape.rend()); }

void add_hf_metadata(GgufWriter& w, const ModelFile& mf, const std::string& gguf_arch, DType to) {
  const ModelConfig& c = mf.config();
  const std::string& a = gguf_arch;
  w.add_string("general.architecture", a);
  w.add_string("general.name", std::filesystem::path(mf.info().path).filename().string());
  w.add_u32("general.file_type", file_type_of(to));
  w.add_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.add_u32(a + ".context_length", static_cast<uint32_t>(c.max_context));
  w.add_u32(a + ".embedding_length", static_cast<uint32_t>(c.d_model));
  w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.d_ff));
  w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.add_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.add_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.add_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.rope_dim));
  w.add_f32(a + ".rope.freq_base", c.rope_theta);
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps);
  w.add_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));

  const TokenizerData& tok = mf.tokenizer();
  if (tok.tokens.empty()) return;
  w.add_string("tokenizer.ggml.model", tok.model);
  w.add_string("tokenizer.ggml.pre", tok.pre.empty() ? "default" : tok.pre);
  w.add_string_array("tokenizer.ggml.tokens", tok.tokens);
  if (!tok.token_types.empty()) w.add_i32_array("tokenizer.ggml.token_type", tok.token_types);
  if (!tok.merges.empty()) w.add_string_array("tokenizer.ggml.merges", tok.merges);
  if (tok.bos_id >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tok.bos_id));
  if (tok.eos_id >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tok.eos_id));
  if (tok.unk_id >= 0) w.add_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(tok.unk_id));
  if (tok.pad_id >= 0) w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(tok.pad_id));
  w.add_bool("tokenizer.ggml.add_bos_token", tok.add_bos);
  w.add_bool("tokenizer.ggml.add_eos_token", tok.add_eos);
}

}  // namespace

void permute_rows_to_llama(const float* canonical, float* llama, int64_t rows, int64_t cols, int n_heads) {
  const std::vector<int64_t> order = llama_rope_row_order(rows, n_heads);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(llama + order[static_cast<size_t>(r)] * cols, canonical + r * cols,
                static_cast<size_t>(cols) * sizeof(float));
}

ConvertStats convert_to_gguf(const std::string& in, const std::string& out, DType to) {
  if (to != DType::F32 && to != DType::F16)
    throw InputError("", "--to", fmt::format("expected f32 or f16, got {}", dtype_name(to)));
  const auto mf = ModelFile::open(in);
  const ModelConfig& c = mf->config();
  GgufWriter w;
  bool llama_order = false;
  std::shared_ptr<const MappedFile> map;  // keeps the source's raw metadata alive until written

  if (mf->info().format == "gguf") {
    map = MappedFile::open(in);
    const GgufFile f = parse_gguf(map->data(), map->size(), in);
    llama_order = gguf_arch(f).rope_permuted;
    w.set_alignment(f.alignment);
    for (const auto& kv : f.kvs) w.add_raw(kv);
    w.add_u32("general.file_type", file_type_of(to));  // replaces the source's value in place
  } else {
    if (c.rope_scaling.factor != 0.0f)
      throw InputError(in, "rope_scaling",
                       "expected no RoPE scaling (llama.cpp stores Llama-3 scaling as a rope_freqs tensor, which this "
                       "converter does not write), got llama3 scaling");
    const std::string arch = c.architecture == "qwen2" ? "qwen2" : "llama";
    llama_order = arch == "llama";
    add_hf_metadata(w, *mf, arch, to);
  }

  ConvertStats stats;
  for (const auto& name : mf->tensor_names()) {
    const TensorRef& t = mf->get(name);
    // llama.cpp keeps 1-D tensors (norms, biases) in F32 whatever the file type.
    const DType type = t.shape.size() == 1 ? DType::F32 : to;
    const std::string file_name = mf->info().format == "gguf" ? t.source_name : gguf_file_name(t.name);
    w.add_tensor(file_name, ggml_ne(t), type, fill_for(t, repermute_heads(t, c, llama_order), type));
    ++stats.tensors;
  }
  w.write(out);
  stats.bytes_written = std::filesystem::file_size(out);
  return stats;
}

}  // namespace bp::rt
