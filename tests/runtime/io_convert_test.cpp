// convert_to_gguf: the default model to F32 and F16 GGUF, and Hugging Face fixtures to GGUF; each output is reopened
// and its canonical tensors compared with the source's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "harness/common/error.h"
#include "harness/runtime/io/convert.h"
#include "harness/runtime/io/half.h"
#include "harness/runtime/io/model_file.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("bp_io_convert_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<float> deq(const TensorRef& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  dequantize_tensor(t, v.data());
  return v;
}

// Every canonical tensor of `b` equals `a`'s, exactly or after rounding to f16 (2-D weights only).
void expect_same_model(const ModelFile& a, const ModelFile& b, DType to) {
  EXPECT_EQ(a.tensor_names().size(), b.tensor_names().size());
  const ModelConfig &ca = a.config(), &cb = b.config();
  EXPECT_EQ(ca.n_layers, cb.n_layers);
  EXPECT_EQ(ca.d_model, cb.d_model);
  EXPECT_EQ(ca.n_heads, cb.n_heads);
  EXPECT_EQ(ca.n_kv_heads, cb.n_kv_heads);
  EXPECT_EQ(ca.head_dim, cb.head_dim);
  EXPECT_EQ(ca.d_ff, cb.d_ff);
  EXPECT_EQ(ca.vocab_size, cb.vocab_size);
  EXPECT_EQ(ca.tied_embeddings, cb.tied_embeddings);
  EXPECT_EQ(ca.attn_bias, cb.attn_bias);
  EXPECT_FLOAT_EQ(ca.rope_theta, cb.rope_theta);
  EXPECT_FLOAT_EQ(ca.rms_eps, cb.rms_eps);
  EXPECT_EQ(a.tokenizer().tokens, b.tokenizer().tokens);
  EXPECT_EQ(a.tokenizer().merges, b.tokenizer().merges);
  EXPECT_EQ(a.tokenizer().bos_id, b.tokenizer().bos_id);
  EXPECT_EQ(a.tokenizer().eos_id, b.tokenizer().eos_id);
  for (const auto& name : a.tensor_names()) {
    SCOPED_TRACE(name);
    const TensorRef& ta = a.get(name);
    const TensorRef& tb = b.get(name);
    ASSERT_EQ(ta.shape, tb.shape);
    const bool one_d = ta.shape.size() == 1;
    EXPECT_EQ(tb.dtype, one_d ? DType::F32 : to);
    const auto va = deq(ta), vb = deq(tb);
    size_t bad = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      const float want = (to == DType::F16 && !one_d) ? half_to_float(float_to_half(va[i])) : va[i];
      if (!(vb[i] == want)) ++bad;
    }
    EXPECT_EQ(bad, 0u) << "of " << va.size() << " elements";
  }
}

TEST(IoConvert, DefaultModelToF32AndF16) {
  BENCH_REQUIRE_MODEL(path);
  TempDir tmp;
  auto src = ModelFile::open(path);
  for (DType to : {DType::F32, DType::F16}) {
    SCOPED_TRACE(dtype_name(to));
    const std::string out = (tmp.path / (std::string("model-") + dtype_name(to) + ".gguf")).string();
    const ConvertStats s = convert_to_gguf(path, out, to);
    EXPECT_EQ(s.tensors, 272);
    EXPECT_FALSE(fs::exists(out + ".tmp"));
    auto dst = ModelFile::open(out);
    expect_same_model(*src, *dst, to);
    // Metadata kept key for key, except the file type (llama.cpp's ALL_F32 = 0, MOSTLY_F16 = 1).
    nlohmann::json ma = src->info().metadata, mb = dst->info().metadata;
    EXPECT_EQ(mb.at("general.file_type"), to == DType::F16 ? 1 : 0);
    ma.erase("general.file_type");
    mb.erase("general.file_type");
    EXPECT_EQ(ma, mb);
    EXPECT_EQ(dst->info().dtype_counts.at("F32"), to == DType::F32 ? 272 : 61);
    // The q/k rows are stored in llama.cpp's order again (the loader un-permutes them on reading).
    EXPECT_EQ(dst->get("blk.0.attn_q").unpermute_heads, 9);
    fs::remove(out);
  }
}

TEST(IoConvert, HuggingFaceToGguf) {
  TempDir tmp;
  const std::string fixtures = bp::test::source_dir() + "/tests/runtime/fixtures/io_hf/";
  // Qwen2 (no permutation, biases, tied) to F32; Mistral (written as GGUF "llama": permuted rows) to F16.
  for (const auto& [name, to] : {std::pair{"qwen2_sharded", DType::F32}, std::pair{"mistral_f32", DType::F16}}) {
    SCOPED_TRACE(name);
    const std::string out = (tmp.path / (std::string(name) + ".gguf")).string();
    convert_to_gguf(fixtures + name, out, to);
    auto src = ModelFile::open(fixtures + name);
    auto dst = ModelFile::open(out);
    EXPECT_EQ(dst->info().format, "gguf");
    EXPECT_EQ(dst->config().architecture, std::string(name) == "qwen2_sharded" ? "qwen2" : "llama");
    expect_same_model(*src, *dst, to);
    EXPECT_EQ(dst->tokenizer().add_bos, src->tokenizer().add_bos);
  }
}

TEST(IoConvert, RejectsWhatItCannotWrite) {
  TempDir tmp;
  const std::string fixtures = bp::test::source_dir() + "/tests/runtime/fixtures/io_hf/";
  const std::string out = (tmp.path / "x.gguf").string();
  EXPECT_THROW(convert_to_gguf(fixtures + "llama_bf16", out, DType::F32), InputError);  // llama3 RoPE scaling
  EXPECT_THROW(convert_to_gguf(fixtures + "qwen2_sharded", out, DType::Q4_0), InputError);
  EXPECT_THROW(convert_to_gguf(fixtures + "qwen2_sharded", "/nonexistent-dir/x.gguf", DType::F32), InputError);
  EXPECT_FALSE(fs::exists(out));
}

TEST(IoConvert, PermuteRowsToLlamaInvertsTheLoader) {
  const int heads = 3, hd = 6, cols = 2, rows = heads * hd;
  std::vector<float> canon(rows * cols), llama(rows * cols), back(rows * cols);
  for (int i = 0; i < rows * cols; ++i) canon[i] = static_cast<float>(i);
  permute_rows_to_llama(canon.data(), llama.data(), rows, cols, heads);
  TensorRef t;
  t.name = "blk.0.attn_q";
  t.dtype = DType::F32;
  t.shape = {rows, cols};
  t.data = reinterpret_cast<const uint8_t*>(llama.data());
  t.nbytes = llama.size() * 4;
  t.unpermute_heads = heads;
  dequantize_tensor(t, back.data());
  EXPECT_EQ(back, canon);
  EXPECT_NE(llama, canon);
  // llama.cpp's order within a head: rows (i, i + hd/2) of the Hugging Face layout become neighbours 2i, 2i+1.
  EXPECT_EQ(llama[1 * cols], canon[3 * cols]);
  EXPECT_EQ(llama[2 * cols], canon[1 * cols]);
}

}  // namespace
}  // namespace bp::rt
