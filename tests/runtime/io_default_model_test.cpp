// Opens the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) and checks what the loader reports against the
// model's published configuration.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "harness/core/error.h"
#include "harness/runtime/io/model_file.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

TEST(IoDefaultModel, ConfigAndTensorTypes) {
  BENCH_REQUIRE_MODEL(path);
  auto mf = ModelFile::open(path);
  const ModelConfig& c = mf->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_layers, 30);
  EXPECT_EQ(c.d_model, 576);
  EXPECT_EQ(c.n_heads, 9);
  EXPECT_EQ(c.n_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.d_ff, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(c.attn_bias);
  EXPECT_GT(c.rms_eps, 0.0f);
  EXPECT_LT(c.rms_eps, 1e-4f);
  EXPECT_EQ(c.rope_scaling.factor, 0.0f);

  const ModelFileInfo& info = mf->info();
  EXPECT_EQ(info.format, "gguf");
  EXPECT_EQ(info.sha256, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
  const std::map<std::string, int64_t> want{{"Q4_1", 210}, {"F32", 61}, {"Q8_0", 1}};
  EXPECT_EQ(info.dtype_counts, want);
  EXPECT_EQ(info.metadata.at("general.architecture"), "llama");
  EXPECT_EQ(info.metadata.at("llama.block_count"), 30);
  // The vocabulary is far longer than 64 entries, so the metadata summary elides it.
  EXPECT_EQ(info.metadata.at("tokenizer.ggml.tokens").at("count"), 49152);
  EXPECT_TRUE(info.metadata.at("tokenizer.ggml.tokens").at("elided").get<bool>());

  EXPECT_EQ(mf->tensor_names().size(), 272u);
  EXPECT_EQ(mf->find("output"), nullptr);
  EXPECT_EQ(mf->get("tok_embd").dtype, DType::Q8_0);
  EXPECT_EQ(mf->get("tok_embd").shape, (std::vector<int64_t>{49152, 576}));
  EXPECT_EQ(mf->get("blk.7.attn_q").dtype, DType::Q4_1);
  EXPECT_EQ(mf->get("blk.7.attn_q").unpermute_heads, 9);
  EXPECT_EQ(mf->get("blk.7.attn_k").unpermute_heads, 3);
  EXPECT_EQ(mf->get("blk.7.attn_v").unpermute_heads, 0);
  EXPECT_EQ(mf->get("blk.7.attn_k").shape, (std::vector<int64_t>{192, 576}));
  EXPECT_EQ(mf->get("blk.29.ffn_down").shape, (std::vector<int64_t>{576, 1536}));
  EXPECT_EQ(mf->get("blk.29.ffn_norm").dtype, DType::F32);
  EXPECT_THROW(mf->get("blk.30.ffn_norm"), bp::InputError);
}

TEST(IoDefaultModel, Tokenizer) {
  BENCH_REQUIRE_MODEL(path);
  auto mf = ModelFile::open(path);
  const TokenizerData& t = mf->tokenizer();
  EXPECT_EQ(t.model, "gpt2");
  EXPECT_FALSE(t.pre.empty());
  EXPECT_EQ(t.tokens.size(), 49152u);
  EXPECT_EQ(t.token_types.size(), 49152u);
  EXPECT_GT(t.merges.size(), 40000u);
  EXPECT_EQ(t.tokens[0], "<|endoftext|>");
  EXPECT_EQ(t.tokens.at(static_cast<size_t>(t.bos_id)), "<|im_start|>");
  EXPECT_EQ(t.tokens.at(static_cast<size_t>(t.eos_id)), "<|im_end|>");
  EXPECT_TRUE(t.hf_tokenizer_json.is_null());
  EXPECT_EQ(t.source, path);
}

// Whole-model dequantization must stay cheap: the runtime does it at every load.
TEST(IoDefaultModel, DequantizesEveryTensorQuickly) {
  BENCH_REQUIRE_MODEL(path);
  auto mf = ModelFile::open(path);
  std::vector<float> buf;
  double total = 0.0;
  int64_t n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& name : mf->tensor_names()) {
    const TensorRef& t = mf->get(name);
    buf.resize(static_cast<size_t>(t.numel()));
    dequantize_tensor(t, buf.data());
    for (float v : buf) total += std::fabs(v);
    n += t.numel();
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(std::isfinite(total));
  EXPECT_GT(total / static_cast<double>(n), 1e-3);  // not all zeros
  EXPECT_EQ(n, 134515008);  // SmolLM2-135M parameter count without the tied output
  EXPECT_LT(sec, 2.0) << "dequantizing the whole model took " << sec << " s";
  std::printf("[io] dequantized %lld parameters in %.3f s (incl. a checksum pass)\n", static_cast<long long>(n), sec);
}

}  // namespace
}  // namespace bp::rt
