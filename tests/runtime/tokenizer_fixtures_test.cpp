// Token ids against fixtures that Hugging Face `tokenizers` produced (tests/tokenizer/make_fixtures.py):
//   - the tokenizer.json path, on a tiny BPE shipped as a fixture, under each pre-tokenizer family;
//   - the GGUF path, on the default model, with its own pre-tokenizer and with the other families swapped in;
//   - the whole WikiText-2 test text through the default model (count + hash of all ids), with the time it took.
// tests/tokenizer/test_tokenizer_parity.py compares with `tokenizers` live; these run without Python.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "harness/runtime/io/model_file.h"
#include "harness/runtime/tokenizer/tokenizer.h"
#include "tests/common/test_env.h"

namespace bp::rt {
namespace {

using nlohmann::json;

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string fixture_dir() { return test::source_dir() + "/tests/tokenizer/fixtures"; }

const json& cases() {
  static const json j = json::parse(read_all(fixture_dir() + "/tokenizer_cases.json"));
  return j;
}

// Same hash as make_fixtures.py: FNV-1a over the ids as little-endian int32.
std::string fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int32_t id : ids) {
    const auto u = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) h = (h ^ ((u >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void expect_cases(const Tokenizer& t, const json& list, const std::string& what) {
  ASSERT_FALSE(list.empty());
  for (const json& c : list) {
    const std::string text = c["text"];
    const bool ps = c["parse_special"], as = c["add_special"];
    EXPECT_EQ(t.encode(text, as, ps), c["ids"].get<std::vector<int32_t>>())
        << what << ": text " << json(text).dump() << " parse_special=" << ps << " add_special=" << as;
  }
}

TEST(TokenizerFixtures, TokenizerJsonMatchesReferenceForEveryPreTokenizer) {
  const json base = json::parse(read_all(fixture_dir() + "/tiny_tokenizer.json"));
  ASSERT_EQ(cases()["tiny"].size(), 5u);
  for (const auto& [name, v] : cases()["tiny"].items()) {
    TokenizerData d;
    d.source = "tiny_tokenizer.json[" + name + "]";
    d.hf_tokenizer_json = base;
    d.hf_tokenizer_json["pre_tokenizer"] = v["pre_tokenizer"];
    d.hf_tokenizer_json["normalizer"] = v["normalizer"];
    d.hf_tokenizer_json["model"]["ignore_merges"] = v["ignore_merges"];
    d.hf_tokenizer_json["post_processor"] = v["post_processor"];
    auto t = Tokenizer::create(d);
    expect_cases(*t, v["cases"], name);
    for (const json& p : v["pieces"]) {
      const std::string text = p["text"];
      EXPECT_EQ(t->pre_tokenize(text, false), p["pieces"].get<std::vector<std::string>>())
          << name << ": pieces of " << json(text).dump();
    }
    if (!v["normalizer"].is_null()) continue;  // normalization is not reversible
    for (const json& c : v["cases"]) {  // every case also round-trips ...
      const std::string text = c["text"];
      // ... except where "<mask>" (lstrip/rstrip) is matched: it swallows the whitespace around it by design.
      if (c["parse_special"] && text.find("<mask>") != std::string::npos) continue;
      EXPECT_EQ(t->decode(t->encode(text, false, c["parse_special"])), text) << name << ": " << json(text).dump();
    }
  }
}

class DefaultModelTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    BENCH_REQUIRE_MODEL(path);
    file_ = ModelFile::open(path);
    ASSERT_EQ(file_->info().sha256, cases()["model"]["sha256"].get<std::string>())
        << "tests/tokenizer/fixtures were generated for another file than " << path
        << " (re-run tests/tokenizer/make_fixtures.py)";
  }
  std::unique_ptr<Tokenizer> with_pre(const json& v) const {
    TokenizerData d = file_->tokenizer();
    d.pre = v["gguf_pre"];
    d.add_bos = v["add_bos"];
    return Tokenizer::create(d);
  }
  std::unique_ptr<ModelFile> file_;
};

TEST_F(DefaultModelTokenizer, GgufMatchesReferenceOnHardStrings) {
  const json& variants = cases()["model"]["variants"];
  ASSERT_EQ(variants.size(), 4u);
  EXPECT_EQ(file_->tokenizer().pre, variants["smollm"]["gguf_pre"]);
  for (const auto& [name, v] : variants.items()) expect_cases(*with_pre(v), v["cases"], "gguf as " + name);
}

TEST_F(DefaultModelTokenizer, GgufMatchesReferenceOnWholeWikiText2Test) {
  const std::string path = test::data_root() + "/wikitext-2-raw/wiki.test.raw";
  std::string text = read_all(path);
  ASSERT_FALSE(text.empty()) << "WikiText-2 test not found at " << path;
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();  // the perplexity protocol drops exactly one trailing newline
  for (const auto& [name, v] : cases()["model"]["variants"].items()) {
    auto t = with_pre(v);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = t->encode(text, false, false);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ids.size(), v["wikitext_test"]["n_tokens"].get<size_t>()) << name;
    EXPECT_EQ(fnv1a64(ids), v["wikitext_test"]["fnv1a64"].get<std::string>()) << name;
    // Reported, not asserted: a slow machine must not fail the suite.
    std::printf("[ timing   ] WikiText-2 test, pre=%s: %zu bytes -> %zu tokens in %.1f ms (cold cache)\n",
                name.c_str(), text.size(), ids.size(), ms);
    RecordProperty("encode_ms_" + name, static_cast<int>(ms));
  }
}

}  // namespace
}  // namespace bp::rt
