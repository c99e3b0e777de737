// Opens the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) and checks what the loader reports against the
// model's published configuration.
#include <gtest/gtest.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "harness/common/error.h"
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

// Whole-model dequantization: every tensor decodes to finite values and the parameter count is right. The time is
// reported (thread CPU time, so a busy machine does not distort it), not asserted: speed is a benchmark's business.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

TEST(IoDefaultModel, DequantizesEveryTensor) {
  BENCH_REQUIRE_MODEL(path);
  auto mf = ModelFile::open(path);
  std::vector<std::vector<float>> out;
  for (const auto& name : mf->tensor_names()) out.emplace_back(static_cast<size_t>(mf->get(name).numel()));
  // Touch the source pages and the output buffers first: page faults are not dequantization.
  const auto names = mf->tensor_names();
  const double c0 = thread_cpu_seconds();
  for (size_t i = 0; i < names.size(); ++i) dequantize_tensor(mf->get(names[i]), out[i].data());
  const double cold = thread_cpu_seconds() - c0;
  const double t0 = thread_cpu_seconds();
  for (size_t i = 0; i < names.size(); ++i) dequantize_tensor(mf->get(names[i]), out[i].data());
  const double sec = thread_cpu_seconds() - t0;

  double total = 0.0;
  int64_t n = 0;
  for (const auto& v : out) {
    for (float x : v) total += std::fabs(x);
    n += static_cast<int64_t>(v.size());
  }
  EXPECT_TRUE(std::isfinite(total));
  EXPECT_GT(total / static_cast<double>(n), 1e-3);  // not all zeros
  EXPECT_EQ(n, 134515008);                          // SmolLM2-135M parameter count without the tied output
  std::printf(
      "[io] dequantized %lld parameters in %.3f s CPU on one thread (%.3f s including first-touch page faults)\n",
      static_cast<long long>(n), sec, cold);
}

}  // namespace
}  // namespace bp::rt
