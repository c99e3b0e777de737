#include "harness/runtime/io/gguf_model.h"

#include <fmt/format.h>

#include <algorithm>

#include "harness/common/error.h"
#include "harness/runtime/io/canonical_layout.h"
#include "harness/runtime/io/dtype_info.h"
#include "harness/runtime/io/gguf_config.h"
#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/loaded_model_file.h"
#include "harness/runtime/io/mapped_file.h"
#include "harness/runtime/io/sha256.h"

namespace bp::rt {

namespace {
constexpr size_t kMetadataArrayLimit = 64;  // longer arrays (vocabularies, merges) are summarised in info().metadata
}

std::unique_ptr<ModelFile> open_gguf_buffer(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                            const std::string& path) {
  const GgufFile f = parse_gguf(data, size, path);
  const GgufArch arch = gguf_arch(f);

  auto mf = std::make_unique<LoadedModelFile>();
  mf->owners_.push_back(std::move(owner));

  // Canonical names first: the config needs to know which optional tensors exist.
  std::vector<std::string> canon(f.tensors.size());
  int vocab = 0;
  bool has_output = false, has_bias = false;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& t = f.tensors[i];
    canon[i] = gguf_canonical_name(t.name);
    if (canon[i].empty()) {
      if (t.name == "rope_freqs.weight")
        throw InputError(path, fmt::format("tensor '{}'", t.name),
                         "expected no per-dimension RoPE frequency factors (Llama-3.1 style RoPE scaling from GGUF is "
                         "not supported; load the Hugging Face checkpoint instead), got them");
      throw InputError(
          path, fmt::format("tensor '{}'", t.name),
          fmt::format("expected only tensors of a Llama-family ({}) model, got an unknown tensor", arch.name));
    }
    if (canon[i] == "tok_embd" && t.ne.size() == 2 && t.ne[1] <= static_cast<uint64_t>(INT32_MAX))
      vocab = static_cast<int>(t.ne[1]);
    if (canon[i] == "output") has_output = true;
    if (canon[i] == "blk.0.attn_q_bias") has_bias = true;
  }
  if (vocab == 0) throw InputError(path, "tensor 'token_embd.weight'", "expected a 2-D token embedding, got none");

  mf->config_ = gguf_model_config(f, arch, vocab, has_output, has_bias);
  validate_config(mf->config_, path);
  const ModelConfig& cfg = mf->config_;

  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& g = f.tensors[i];
    TensorRef t;
    t.name = canon[i];
    t.source_name = g.name;
    t.dtype = *dtype_from_ggml(g.ggml_type);  // parse_gguf accepted only supported types
    for (auto it = g.ne.rbegin(); it != g.ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));
    t.data = g.data;
    t.nbytes = static_cast<size_t>(g.nbytes);
    if (arch.rope_permuted) {
      const std::string& n = t.name;
      const auto ends_with = [&](const char* s) {
        const size_t k = std::char_traits<char>::length(s);
        return n.size() >= k && n.compare(n.size() - k, k, s) == 0;
      };
      if (ends_with(".attn_q")) t.unpermute_heads = cfg.n_heads;
      if (ends_with(".attn_k")) t.unpermute_heads = cfg.n_kv_heads;
      // llama.cpp permutes the q/k biases of permuted architectures the same way.
      if (ends_with(".attn_q_bias")) t.unpermute_heads = cfg.n_heads;
      if (ends_with(".attn_k_bias")) t.unpermute_heads = cfg.n_kv_heads;
    }
    mf->info_.dtype_counts[dtype_name(t.dtype)] += 1;
    mf->add(std::move(t));
  }
  validate_layout(*mf, path);

  mf->tokenizer_ = gguf_tokenizer(f);
  if (mf->tokenizer_.tokens.size() > static_cast<size_t>(cfg.vocab_size))
    throw InputError(path, "metadata 'tokenizer.ggml.tokens'",
                     fmt::format("expected at most {} tokens (the embedding rows), got {}", cfg.vocab_size,
                                 mf->tokenizer_.tokens.size()));

  ModelFileInfo& info = mf->info_;
  info.path = path;
  info.format = "gguf";
  info.sha256 = sha256_hex({{data, size}});
  info.metadata = nlohmann::json::object();
  for (const auto& kv : f.kvs) info.metadata[kv.key] = gguf_to_json(kv, kMetadataArrayLimit);
  return mf;
}

std::unique_ptr<ModelFile> open_gguf(const std::string& path) {
  auto map = MappedFile::open(path);
  const uint8_t* data = map->data();
  const size_t size = map->size();
  return open_gguf_buffer(std::move(map), data, size, path);
}

}  // namespace bp::rt
