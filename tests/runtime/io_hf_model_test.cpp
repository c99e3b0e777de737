// Hugging Face checkpoints: tiny Llama (BF16, llama3 RoPE scaling), Qwen2 (F16, sharded, biases, tied) and Mistral
// (F32) directories made by fixtures/make_io_hf_fixture.py with transformers; expected.json holds what transformers
// reports for the same files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/runtime/io/hf_config.h"
#include "harness/runtime/io/model_file.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

std::string fixture_dir(const std::string& name) {
  return bp::test::source_dir() + "/tests/runtime/fixtures/io_hf/" + name;
}

nlohmann::json expected(const std::string& name) {
  std::ifstream in(fixture_dir(name) + "/expected.json");
  return nlohmann::json::parse(in);
}

// Every tensor transformers saw, under its canonical name, with the same values.
void check_common(const ModelFile& mf, const nlohmann::json& ex) {
  const ModelConfig& c = mf.config();
  const auto& ec = ex.at("config");
  EXPECT_EQ(c.n_layers, ec.at("n_layers").get<int>());
  EXPECT_EQ(c.d_model, ec.at("d_model").get<int>());
  EXPECT_EQ(c.n_heads, ec.at("n_heads").get<int>());
  EXPECT_EQ(c.n_kv_heads, ec.at("n_kv_heads").get<int>());
  EXPECT_EQ(c.head_dim, ec.at("head_dim").get<int>());
  EXPECT_EQ(c.rope_dim, c.head_dim);
  EXPECT_EQ(c.d_ff, ec.at("d_ff").get<int>());
  EXPECT_EQ(c.vocab_size, ec.at("vocab_size").get<int>());
  EXPECT_EQ(c.max_context, ec.at("max_context").get<int>());
  EXPECT_FLOAT_EQ(c.rms_eps, ec.at("rms_eps").get<float>());
  EXPECT_EQ(c.tied_embeddings, ec.at("tied_embeddings").get<bool>());
  EXPECT_FLOAT_EQ(c.rope_theta, ex.at("rope_theta").get<float>());
  EXPECT_EQ(mf.info().format, "safetensors");
  EXPECT_EQ(mf.info().sha256, ex.at("sha256").get<std::string>());
  EXPECT_TRUE(mf.info().metadata.contains("architectures"));

  size_t n = 0;
  for (const auto& [hf_name, ref] : ex.at("tensors").items()) {
    SCOPED_TRACE(hf_name);
    const std::string canon = hf_canonical_name(hf_name);
    ASSERT_FALSE(canon.empty());
    const TensorRef& t = mf.get(canon);
    EXPECT_EQ(t.source_name, hf_name);
    EXPECT_EQ(t.unpermute_heads, 0);  // Hugging Face layout needs no permutation
    ASSERT_EQ(t.shape, ref.at("shape").get<std::vector<int64_t>>());
    std::vector<float> w(static_cast<size_t>(t.numel()));
    dequantize_tensor(t, w.data());
    double s = 0, s2 = 0;
    for (float v : w) s += v, s2 += static_cast<double>(v) * v;
    const double want_s = ref.at("sum").get<double>(), want_s2 = ref.at("sumsq").get<double>();
    EXPECT_NEAR(s, want_s, 1e-9 + 1e-9 * std::fabs(want_s2));
    EXPECT_NEAR(s2, want_s2, 1e-9 + 1e-9 * want_s2);
    const auto first = ref.at("first").get<std::vector<double>>();
    for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(static_cast<double>(w[i]), first[i]) << "element " << i;
    ++n;
  }
  EXPECT_EQ(mf.tensor_names().size(), n);

  const TokenizerData& tok = mf.tokenizer();
  const auto& et = ex.at("tokenizer");
  EXPECT_EQ(tok.model, "gpt2");
  EXPECT_EQ(tok.tokens.size(), et.at("vocab").get<size_t>());
  EXPECT_EQ(tok.token_types.size(), tok.tokens.size());
  ASSERT_FALSE(tok.merges.empty());
  const auto fm = et.at("first_merge").get<std::vector<std::string>>();
  EXPECT_EQ(tok.merges[0], fm[0] + " " + fm[1]);
  EXPECT_EQ(tok.eos_id, et.at("eos_id").get<int>());
  EXPECT_EQ(tok.bos_id, et.at("bos_id").is_null() ? -1 : et.at("bos_id").get<int>());
  EXPECT_TRUE(tok.hf_tokenizer_json.is_object());
  EXPECT_TRUE(tok.hf_tokenizer_json.contains("model"));
}

TEST(IoHfModel, LlamaBf16WithLlama3RopeScaling) {
  const std::string dir = fixture_dir("llama_bf16");
  auto mf = ModelFile::open(dir);
  check_common(*mf, expected("llama_bf16"));
  const ModelConfig& c = mf->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_FALSE(c.attn_bias);
  EXPECT_FLOAT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_FLOAT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position, 64);
  EXPECT_EQ(mf->info().dtype_counts, (std::map<std::string, int64_t>{{"BF16", 21}}));
  ASSERT_NE(mf->find("output"), nullptr);
  const TokenizerData& t = mf->tokenizer();
  EXPECT_TRUE(t.add_bos);  // tokenizer_config.json says so
  EXPECT_FALSE(t.add_eos);
  EXPECT_EQ(t.tokens.at(static_cast<size_t>(t.unk_id)), "<unk>");
  EXPECT_EQ(t.token_types.at(static_cast<size_t>(t.bos_id)), 3);  // special added token -> control
  EXPECT_EQ(t.source, dir + "/tokenizer.json");
}

TEST(IoHfModel, Qwen2ShardedF16WithBiasesAndTiedEmbeddings) {
  auto mf = ModelFile::open(fixture_dir("qwen2_sharded"));
  check_common(*mf, expected("qwen2_sharded"));
  const ModelConfig& c = mf->config();
  EXPECT_EQ(c.architecture, "qwen2");
  EXPECT_TRUE(c.attn_bias);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.rope_scaling.factor, 0.0f);
  EXPECT_EQ(mf->find("output"), nullptr);
  EXPECT_EQ(mf->get("blk.1.attn_k_bias").shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(mf->info().dtype_counts, (std::map<std::string, int64_t>{{"F16", 2 + 2 * 12}}));
  EXPECT_FALSE(mf->tokenizer().add_bos);
  EXPECT_EQ(mf->tokenizer().pad_id, 0);
}

TEST(IoHfModel, MistralF32WithBosFromPostProcessor) {
  auto mf = ModelFile::open(fixture_dir("mistral_f32"));
  const nlohmann::json ex = expected("mistral_f32");
  check_common(*mf, ex);
  EXPECT_EQ(mf->config().architecture, "mistral");
  EXPECT_EQ(mf->info().dtype_counts, (std::map<std::string, int64_t>{{"F32", 21}}));
  // No add_bos_token flag: the TemplateProcessing post-processor adds <s>, as transformers' encoding shows.
  const auto ids = ex.at("tokenizer").at("ids_of_hello").get<std::vector<int>>();
  EXPECT_EQ(ids.front(), mf->tokenizer().bos_id);
  EXPECT_TRUE(mf->tokenizer().add_bos);
}

}  // namespace
}  // namespace bp::rt
