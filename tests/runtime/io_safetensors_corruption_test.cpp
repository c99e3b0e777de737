// Corrupted safetensors headers and inconsistent Hugging Face directories: each must give a bp::InputError naming
// the file and the offending field.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "harness/runtime/io/model_file.h"
#include "harness/runtime/io/safetensors_reader.h"
#include "tests/common/test_env.h"
#include "tests/runtime/io_test_util.h"

namespace bp::rt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::expect_input_error;

SafetensorsFile parse(const std::string& bytes) {
  const std::vector<uint8_t> v(bytes.begin(), bytes.end());
  return parse_safetensors(v.data(), v.size(), "bad.safetensors");
}

json entry(const char* dtype, json shape, uint64_t b, uint64_t e) {
  return {{"dtype", dtype}, {"shape", std::move(shape)}, {"data_offsets", {b, e}}};
}

TEST(IoSafetensorsCorruption, ValidFileParses) {
  const auto f = parse(test::safetensors_image(
      {{"a", entry("F32", {2, 2}, 0, 16)}, {"b", entry("BF16", {3}, 16, 22)}, {"__metadata__", {{"format", "pt"}}}},
      std::string(22, '\0')));
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.tensors[1].dtype, DType::BF16);
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(IoSafetensorsCorruption, HeaderProblems) {
  expect_input_error([] { parse("abc"); }, {"bad.safetensors", "8-byte header length"});
  test::Bytes big;
  big.u64(1000).raw("{}");
  expect_input_error([&] { parse(big.b); }, {"bad.safetensors", "header length", "got 1000"});
  test::Bytes huge;
  huge.u64(~uint64_t{0}).raw("{}");
  expect_input_error([&] { parse(huge.b); }, {"header length"});
  test::Bytes notjson;
  notjson.u64(7).raw("{\"a\": 1");
  expect_input_error([&] { parse(notjson.b); }, {"valid JSON"});
  test::Bytes arr;
  arr.u64(2).raw("[]");
  expect_input_error([&] { parse(arr.b); }, {"JSON object"});
  expect_input_error(
      [] {
        parse(test::safetensors_image({{"__metadata__", {{"k", 1}}}}, ""));
      },
      {"/__metadata__/k", "expected a string"});
}

TEST(IoSafetensorsCorruption, EntryProblems) {
  const std::string data(64, '\0');
  auto bad = [&](json e, std::initializer_list<std::string> frag) {
    expect_input_error([&] { parse(test::safetensors_image({{"w", e}}, data)); }, frag);
  };
  bad(entry("I64", {2}, 0, 16), {"/w/dtype", "'I64' (unsupported)"});
  bad(entry("F8_E4M3", {2}, 0, 2), {"/w/dtype", "F8_E4M3"});
  bad(entry("F32", {2, 3}, 0, 16), {"/w/data_offsets", "expected 24 bytes (6 elements of F32), got 16"});
  bad(entry("F16", {4}, 60, 68), {"/w/data_offsets", "beyond end of the data buffer (64 bytes)"});
  bad(entry("F16", {0}, 8, 4), {"/w/data_offsets", "begin <= end"});
  bad(entry("F32", {-2}, 0, 8), {"/w/shape/0", "non-negative integer"});
  bad(entry("F32", {1.5}, 0, 8), {"/w/shape/0", "non-negative integer"});
  bad(entry("F32", {uint64_t{1} << 62, 8}, 0, 8), {"/w/shape", "fits in 64 bits"});
  bad({{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0}}}, {"/w/data_offsets", "[begin, end]"});
  bad({{"dtype", "F32"}, {"shape", {2}}}, {"/w/data_offsets"});
  bad({{"shape", {2}}, {"data_offsets", {0, 8}}}, {"/w/dtype"});
  bad({{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}, {"extra", 1}}, {"/w/extra"});
  bad(json::array(), {"/w", "expected an object"});
  // Overlapping ranges alias two tensors' bytes.
  expect_input_error(
      [&] {
        parse(test::safetensors_image({{"a", entry("F32", {4}, 0, 16)}, {"b", entry("F32", {4}, 8, 24)}}, data));
      },
      {"overlaps 'a' [0, 16)"});
  // Empty tensors take no bytes and may share an offset.
  EXPECT_NO_THROW(
      parse(test::safetensors_image({{"a", entry("F32", {0}, 8, 8)}, {"b", entry("F32", {4}, 0, 16)}}, data)));
}

// Every truncation of a valid shard is rejected.
TEST(IoSafetensorsCorruption, EveryTruncationIsRejected) {
  const std::string shard = test::read_file(
      bp::test::source_dir() + "/tests/runtime/fixtures/io_hf/qwen2_sharded/model-00003-of-00003.safetensors");
  ASSERT_GT(shard.size(), 100u);
  EXPECT_NO_THROW(parse(shard));
  for (size_t len = 0; len < shard.size(); ++len) EXPECT_THROW(parse(shard.substr(0, len)), InputError) << len;
}

// Copies a fixture checkpoint to a temp dir where a test may break it.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& fixture) {
    dir = fs::temp_directory_path() / ("bp_io_hf_" + std::to_string(::getpid()) + "_" + fixture);
    fs::remove_all(dir);
    fs::copy(bp::test::source_dir() + "/tests/runtime/fixtures/io_hf/" + fixture, dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string file(const std::string& n) const { return (dir / n).string(); }
  json read(const std::string& n) const { return json::parse(test::read_file(file(n))); }
  void write(const std::string& n, const json& j) const { test::write_file(file(n), j.dump()); }
};

TEST(IoHfDirectoryErrors, ConfigProblems) {
  auto with_config = [](const char* fixture, const std::function<void(json&)>& edit,
                        std::initializer_list<std::string> frag) {
    Scratch s(fixture);
    json c = s.read("config.json");
    edit(c);
    s.write("config.json", c);
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, frag);
  };
  with_config("llama_bf16", [](json& c) { c["architectures"] = {"GPT2LMHeadModel"}; },
              {"config.json", "/architectures/0", "'GPT2LMHeadModel'", "not supported"});
  with_config("llama_bf16", [](json& c) { c["architectures"] = {"FalconForCausalLM"}; }, {"'FalconForCausalLM'"});
  with_config("llama_bf16", [](json& c) { c["hidden_act"] = "gelu"; }, {"/hidden_act", "gelu"});
  with_config("llama_bf16", [](json& c) { c["rope_parameters"]["rope_type"] = "yarn"; },
              {"/rope_parameters/rope_type", "yarn"});
  with_config("llama_bf16", [](json& c) { c["rope_parameters"].erase("low_freq_factor"); }, {"low_freq_factor"});
  with_config("llama_bf16", [](json& c) { c.erase("num_hidden_layers"); }, {"/num_hidden_layers"});
  with_config("llama_bf16", [](json& c) { c["num_key_value_heads"] = "one"; }, {"/num_key_value_heads", "integer"});
  with_config("llama_bf16", [](json& c) { c["attention_bias"] = true; }, {"/attention_bias"});
  with_config("llama_bf16", [](json& c) { c["rms_norm_eps"] = 1e300; }, {"/rms_norm_eps", "float range"});
  // A config that disagrees with the stored tensors.
  with_config("llama_bf16", [](json& c) { c["intermediate_size"] = 48; }, {"model.layers.0.mlp.", "expected shape"});
  with_config("mistral_f32", [](json& c) { c["sliding_window"] = 4096; }, {"/sliding_window", "4096"});
  with_config("mistral_f32", [](json& c) { c.erase("sliding_window"); }, {"/sliding_window", "default 4096"});
  with_config("qwen2_sharded", [](json& c) { c["use_sliding_window"] = true; }, {"/use_sliding_window"});
  Scratch s("llama_bf16");
  test::write_file(s.file("config.json"), "{ not json");
  expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"config.json", "valid JSON"});
}

TEST(IoHfDirectoryErrors, ShardProblems) {
  {
    Scratch s("qwen2_sharded");
    fs::remove(s.file("model-00002-of-00003.safetensors"));
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"model-00002-of-00003.safetensors", "exist"});
  }
  {
    Scratch s("qwen2_sharded");
    json idx = s.read("model.safetensors.index.json");
    idx["weight_map"]["model.norm.weight"] = "model-00001-of-00003.safetensors";  // it lives in another shard
    s.write("model.safetensors.index.json", idx);
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"model.norm.weight", "index"});
  }
  {
    Scratch s("qwen2_sharded");
    json idx = s.read("model.safetensors.index.json");
    idx["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00003.safetensors";
    s.write("model.safetensors.index.json", idx);
    expect_input_error([&] { ModelFile::open(s.dir.string()); },
                       {"model.layers.9.mlp.up_proj.weight", "expected this tensor in shard"});
  }
  {
    Scratch s("qwen2_sharded");
    json idx = s.read("model.safetensors.index.json");
    idx["weight_map"]["model.norm.weight"] = "../../etc/passwd";
    s.write("model.safetensors.index.json", idx);
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"file name in the checkpoint directory"});
  }
  {
    Scratch s("llama_bf16");
    fs::remove(s.file("model.safetensors"));
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"model.safetensors"});
  }
  {
    // A shard without one of the model's tensors.
    Scratch s("mistral_f32");
    const std::string bytes = test::read_file(s.file("model.safetensors"));
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    json h = json::parse(bytes.substr(8, n));
    h.erase("model.layers.1.mlp.down_proj.weight");
    test::write_file(s.file("model.safetensors"), test::safetensors_image(h, bytes.substr(8 + n)));
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"blk.1.ffn_down", "expected this tensor"});
  }
  {
    // Token ids index the embedding: one beyond vocab_size is rejected before anything is sized by it.
    Scratch s("llama_bf16");
    json tok = s.read("tokenizer.json");
    tok["added_tokens"].push_back({{"id", 100000000}, {"content", "<big>"}, {"special", true}});
    s.write("tokenizer.json", tok);
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"tokenizer.json", "/added_tokens/3", "0..299"});
  }
  {
    Scratch s("llama_bf16");
    test::write_file(s.file("tokenizer_config.json"), R"({"bos_token": "<nope>"})");
    expect_input_error([&] { ModelFile::open(s.dir.string()); }, {"tokenizer_config.json", "/bos_token", "<nope>"});
  }
}

}  // namespace
}  // namespace bp::rt
