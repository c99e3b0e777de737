// Corrupted and unsupported GGUF files: each must give a bp::InputError naming the file and what is wrong, never a
// crash or an out-of-bounds read (inputs are exact-size heap buffers, so sanitizers would see any overrun).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "harness/runtime/io/gguf_model.h"
#include "harness/runtime/io/gguf_reader.h"
#include "harness/runtime/io/gguf_writer.h"
#include "harness/runtime/io/model_file.h"
#include "tests/common/test_env.h"
#include "tests/runtime/io_test_util.h"

namespace bp::rt {
namespace {

using test::Bytes;
using test::expect_input_error;
using test::gguf_header;

void parse(const Bytes& g) {
  const auto v = g.vec();
  parse_gguf(v.data(), v.size(), "bad.gguf");
}
void open_model(const std::string& bytes) {
  auto v = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
  open_gguf_buffer(v, v->data(), v->size(), "bad.gguf");
}

// One F32 tensor [n] at `offset` after a single general.alignment-free header.
Bytes one_tensor(uint32_t type, std::vector<uint64_t> ne, uint64_t offset, size_t data_bytes) {
  Bytes g = gguf_header(3, 1, 0);
  g.str("t").u32(static_cast<uint32_t>(ne.size()));
  for (auto d : ne) g.u64(d);
  g.u32(type).u64(offset).pad_to(32);
  g.raw(std::string(data_bytes, '\0'));
  return g;
}

TEST(IoGgufCorruption, HeaderProblems) {
  expect_input_error([] { parse(Bytes().raw("GG")); }, {"bad.gguf", "GGUF"});
  expect_input_error([] { parse(Bytes().raw("GGML").u32(3).u64(0).u64(0)); }, {"bad.gguf", "magic"});
  expect_input_error([] { parse(Bytes().raw("GGUF").u32(3)); }, {"bad.gguf", "tensor_count", "truncated"});
  expect_input_error([] { parse(gguf_header(1, 0, 0)); }, {"version 1"});
  expect_input_error([] { parse(gguf_header(4, 0, 0)); }, {"expected GGUF version 2 or 3, got 4"});
  expect_input_error([] { parse(gguf_header(0x03000000, 0, 0)); }, {"big-endian"});
  // Counts that cannot fit in the file are rejected before anything is allocated or looped over.
  expect_input_error([] { parse(gguf_header(3, 0, uint64_t{1} << 60)); }, {"metadata_kv_count"});
  expect_input_error([] { parse(gguf_header(3, uint64_t{1} << 60, 0)); }, {"tensor_count"});
  // Version 2 has the same layout and is accepted.
  EXPECT_NO_THROW(parse(gguf_header(2, 0, 0)));
}

TEST(IoGgufCorruption, MetadataProblems) {
  // Key length past the end of the file.
  expect_input_error([] { parse(gguf_header(3, 0, 1).u64(1000).raw(std::string(40, 'x'))); },
                     {"metadata[0] key", "string length 1000", "past the end of the file"});
  // String value length past the end.
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(8).u64(uint64_t{1} << 62)); },
                     {"metadata 'k'", "string length"});
  // Unknown value type, nested arrays, arrays longer than the file.
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(13).u32(0)); }, {"metadata 'k'", "value type"});
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(9).u32(9).u64(1)); }, {"array of arrays"});
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(9).u32(4).u64(uint64_t{1} << 62).u32(1)); },
                     {"metadata 'k'", "runs past the end"});
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(9).u32(8).u64(uint64_t{1} << 40).str("x")); },
                     {"metadata 'k'", "strings cannot fit"});
  // Truncated scalar, duplicate keys, empty and non-UTF-8 keys.
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k").u32(4).u8(1)); }, {"metadata 'k'", "truncated"});
  expect_input_error([] { parse(gguf_header(3, 0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2)); },
                     {"'k'", "duplicate"});
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("").u32(4).u32(1)); }, {"non-empty key"});
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("k\xff").u32(4).u32(1)); }, {"UTF-8 key"});
  // general.alignment must be a power of two.
  expect_input_error([] { parse(gguf_header(3, 0, 1).str("general.alignment").u32(4).u32(48)); },
                     {"general.alignment", "power of two", "48"});
  // A well-typed accessor on the wrong type names the key and both types.
  const auto v = gguf_header(3, 0, 1).str("general.architecture").u32(4).u32(7).vec();
  const GgufFile f = parse_gguf(v.data(), v.size(), "bad.gguf");
  expect_input_error([&] { gguf_string(f, f.kvs[0]); }, {"general.architecture", "expected a string, got uint32"});
}

TEST(IoGgufCorruption, TensorInfoProblems) {
  // Tensor data past the end of the file: the message gives the byte range and the file size.
  expect_input_error([] { parse(one_tensor(0, {1024}, 0, 64)); },
                     {"bad.gguf", "tensor 't'", "data range [64, 4160) beyond end of file (128 bytes)"});
  expect_input_error([] { parse(one_tensor(0, {8}, 4, 64)); }, {"tensor 't'", "aligned to 32"});
  expect_input_error([] { parse(one_tensor(13, {256}, 0, 256)); }, {"tensor 't'", "Q5_K (ggml type 13)"});
  expect_input_error([] { parse(one_tensor(99, {8}, 0, 64)); }, {"tensor 't'", "type 99"});
  expect_input_error([] { parse(one_tensor(2, {48}, 0, 64)); }, {"tensor 't'", "multiple of 32"});
  expect_input_error([] { parse(one_tensor(0, {8, 0}, 0, 64)); }, {"tensor 't'", "dimension 1"});
  expect_input_error([] { parse(one_tensor(0, {1, 1, 1, 1, 1}, 0, 64)); }, {"tensor 't'", "1..4 dimensions, got 5"});
  expect_input_error(
      [] {
        parse(one_tensor(0, {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 64));
      },
      {"tensor 't'", "overflowing shape"});
  // An offset so large that offset + size wraps around must not slip through.
  expect_input_error([] { parse(one_tensor(0, {8}, ~uint64_t{0} - 31, 64)); }, {"tensor 't'", "beyond end of file"});

  // Two tensors sharing bytes, and duplicate names.
  Bytes g = gguf_header(3, 2, 0);
  g.str("a").u32(1).u64(16).u32(0).u64(0);
  g.str("b").u32(1).u64(16).u32(0).u64(64);
  g.pad_to(32).raw(std::string(128, '\0'));
  EXPECT_NO_THROW(parse(g));
  Bytes o = gguf_header(3, 2, 0);
  o.str("a").u32(1).u64(16).u32(0).u64(0);
  o.str("b").u32(1).u64(16).u32(0).u64(32);  // a occupies [0, 64)
  o.pad_to(32).raw(std::string(128, '\0'));
  expect_input_error([&] { parse(o); }, {"overlaps tensor"});
  Bytes d = gguf_header(3, 2, 0);
  d.str("a").u32(1).u64(8).u32(0).u64(0);
  d.str("a").u32(1).u64(8).u32(0).u64(32);
  d.pad_to(32).raw(std::string(64, '\0'));
  expect_input_error([&] { parse(d); }, {"tensor 'a'", "duplicate"});
}

// Every truncation of a valid small model is an InputError (never a crash, never acceptance).
TEST(IoGgufCorruption, EveryTruncationOfAValidFileIsRejected) {
  const std::string seed = test::read_file(bp::test::source_dir() + "/tests/fuzz/seeds/gguf/tiny_llama_mixed.gguf");
  ASSERT_GT(seed.size(), 1000u);
  EXPECT_NO_THROW(open_model(seed));
  for (size_t len = 0; len < seed.size(); len += (len < 2048 ? 1 : 97)) {
    SCOPED_TRACE(len);
    EXPECT_THROW(open_model(seed.substr(0, len)), InputError);
  }
}

// A consistent tiny model written with our writer, with one thing changed per case.
struct TinyModel {
  std::string arch = "llama";
  int d = 32, ff = 64, heads = 2, kv = 1, vocab = 8;
  std::vector<std::string> skip;   // tensors left out
  std::vector<std::string> extra;  // unknown tensors added
  std::map<std::string, std::vector<uint64_t>> ne_override;
  std::function<void(GgufWriter&)> more_kv;

  std::string bytes() const {
    GgufWriter w;
    w.add_string("general.architecture", arch);
    w.add_u32(arch + ".block_count", 1);
    w.add_u32(arch + ".embedding_length", static_cast<uint32_t>(d));
    w.add_u32(arch + ".feed_forward_length", static_cast<uint32_t>(ff));
    w.add_u32(arch + ".attention.head_count", static_cast<uint32_t>(heads));
    w.add_u32(arch + ".attention.head_count_kv", static_cast<uint32_t>(kv));
    if (more_kv) more_kv(w);
    const uint64_t hd = static_cast<uint64_t>(d / heads);
    std::vector<std::pair<std::string, std::vector<uint64_t>>> ts = {
        {"token_embd.weight", {uint64_t(d), uint64_t(vocab)}},
        {"output_norm.weight", {uint64_t(d)}},
        {"blk.0.attn_norm.weight", {uint64_t(d)}},
        {"blk.0.attn_q.weight", {uint64_t(d), heads * hd}},
        {"blk.0.attn_k.weight", {uint64_t(d), kv * hd}},
        {"blk.0.attn_v.weight", {uint64_t(d), kv * hd}},
        {"blk.0.attn_output.weight", {heads * hd, uint64_t(d)}},
        {"blk.0.ffn_norm.weight", {uint64_t(d)}},
        {"blk.0.ffn_gate.weight", {uint64_t(d), uint64_t(ff)}},
        {"blk.0.ffn_up.weight", {uint64_t(d), uint64_t(ff)}},
        {"blk.0.ffn_down.weight", {uint64_t(ff), uint64_t(d)}}};
    for (const auto& e : extra) ts.push_back({e, {uint64_t(d)}});
    for (auto& [name, ne] : ts) {
      if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
      if (auto it = ne_override.find(name); it != ne_override.end()) ne = it->second;
      w.add_tensor(name, ne, DType::F32, [](uint8_t* dst, size_t n) { std::memset(dst, 0, n); });
    }
    const std::string path =
        (std::filesystem::temp_directory_path() / ("bp_io_tiny_" + std::to_string(::getpid()))).string();
    w.write(path);
    std::string b = test::read_file(path);
    std::filesystem::remove(path);
    return b;
  }
};

TEST(IoGgufCorruption, ModelLevelProblems) {
  EXPECT_NO_THROW(open_model(TinyModel{}.bytes()));
  for (const char* arch : {"gpt2", "falcon", "phi2"}) {
    TinyModel m;
    m.arch = arch;
    expect_input_error([&] { open_model(m.bytes()); },
                       {"bad.gguf", "general.architecture", std::string("'") + arch + "'", "not supported"});
  }
  TinyModel missing;
  missing.skip = {"blk.0.ffn_up.weight"};
  expect_input_error([&] { open_model(missing.bytes()); }, {"blk.0.ffn_up", "expected this tensor"});
  TinyModel shape;
  shape.ne_override["blk.0.attn_k.weight"] = {32, 32};
  expect_input_error([&] { open_model(shape.bytes()); },
                     {"blk.0.attn_k.weight", "expected shape [16, 32], got [32, 32]"});
  TinyModel unknown;
  unknown.extra = {"blk.0.attn_output.bias"};
  expect_input_error([&] { open_model(unknown.bytes()); }, {"blk.0.attn_output.bias", "unknown tensor"});
  TinyModel layer;
  layer.extra = {"blk.1.attn_norm.weight"};  // block_count is 1
  expect_input_error([&] { open_model(layer.bytes()); }, {"blk.1.attn_norm.weight", "1-layer"});
  TinyModel freqs;
  freqs.extra = {"rope_freqs.weight"};
  expect_input_error([&] { open_model(freqs.bytes()); }, {"rope_freqs", "not supported"});
  TinyModel gqa;
  gqa.kv = 3;  // 2 heads cannot share 3 kv heads
  expect_input_error([&] { open_model(gqa.bytes()); }, {"n_kv_heads", "divisor"});
  TinyModel nokey;
  nokey.more_kv = [](GgufWriter& w) { w.add_string("llama.block_count", "one"); };
  expect_input_error([&] { open_model(nokey.bytes()); }, {"llama.block_count", "expected an integer, got string"});
  TinyModel scaling;
  scaling.more_kv = [](GgufWriter& w) { w.add_string("llama.rope.scaling.type", "yarn"); };
  expect_input_error([&] { open_model(scaling.bytes()); }, {"rope.scaling.type", "yarn"});
  TinyModel tok;
  tok.more_kv = [](GgufWriter& w) {
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
    w.add_u32("tokenizer.ggml.bos_token_id", 5);
  };
  expect_input_error([&] { open_model(tok.bytes()); }, {"tokenizer.ggml.bos_token_id", "0..1, got 5"});
  TinyModel types;
  types.more_kv = [](GgufWriter& w) {
    w.add_string_array("tokenizer.ggml.tokens", {"a", "b"});
    w.add_i32_array("tokenizer.ggml.token_type", {1});
  };
  expect_input_error([&] { open_model(types.bytes()); }, {"token_type", "one type per token (2), got 1"});
}

TEST(IoGgufCorruption, FilesOnDisk) {
  const auto dir = std::filesystem::temp_directory_path() / ("bp_io_disk_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string empty = (dir / "empty.gguf").string(), text = (dir / "notes.txt").string();
  test::write_file(empty, "");
  test::write_file(text, "hello, not a model");
  expect_input_error([&] { ModelFile::open(empty); }, {empty, "GGUF"});
  expect_input_error([&] { ModelFile::open(text); }, {text, "GGUF"});
  expect_input_error([&] { ModelFile::open((dir / "missing.gguf").string()); }, {"missing.gguf", "does not exist"});
  expect_input_error([&] { ModelFile::open(dir.string()); }, {"config.json"});  // a directory without a checkpoint
  // A truncated copy of the default model names the tensor whose data is cut off.
  const std::string model = bp::test::default_model_path();
  if (std::filesystem::exists(model)) {
    const std::string cut = (dir / "cut.gguf").string();
    std::filesystem::copy_file(model, cut);
    std::filesystem::resize_file(cut, std::filesystem::file_size(model) - 1000);
    expect_input_error([&] { ModelFile::open(cut); }, {cut, "tensor '", "beyond end of file"});
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bp::rt
