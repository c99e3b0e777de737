// Unit tests of the byte-level BPE tokenizer on small hand-made vocabularies: merge order, whole-word lookup,
// special tokens, round trips over arbitrary bytes, and the errors bad GGUF metadata / tokenizer.json give.
// Parity with Hugging Face on real vocabularies is in tokenizer_fixtures_test.cpp and tests/tokenizer/.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness/common/error.h"
#include "harness/runtime/tokenizer/byte_level.h"
#include "harness/runtime/tokenizer/nfc.h"
#include "harness/runtime/tokenizer/pre_tokenizer.h"
#include "harness/runtime/tokenizer/tokenizer.h"

namespace bp::rt {
namespace {

using byte_level::encode;

// GGUF-style data: ids 0..255 are the one-byte tokens (in byte order), then `extra` (raw text, stored byte-level
// encoded like every GGUF token), then `specials` with their token types.
struct VocabBuilder {
  std::vector<std::string> extra;
  std::vector<std::pair<std::string, int32_t>> specials;
  std::vector<std::pair<std::string, std::string>> merges;  // raw (left, right)
  std::string pre = "gpt2";

  TokenizerData data() const {
    TokenizerData d;
    d.model = "gpt2";
    d.pre = pre;
    d.source = "unit.gguf";
    for (int b = 0; b < 256; ++b) d.tokens.push_back(encode(std::string(1, static_cast<char>(b))));
    for (const auto& e : extra) d.tokens.push_back(encode(e));
    d.token_types.assign(d.tokens.size(), 1);
    for (const auto& [text, type] : specials) {
      d.tokens.push_back(text);
      d.token_types.push_back(type);
    }
    for (const auto& [l, r] : merges) d.merges.push_back(encode(l) + " " + encode(r));
    return d;
  }
  int32_t id(const std::string& extra_token) const {
    for (size_t i = 0; i < extra.size(); ++i)
      if (extra[i] == extra_token) return static_cast<int32_t>(256 + i);
    ADD_FAILURE() << "no token " << extra_token;
    return -1;
  }
};

int32_t byte(char c) { return static_cast<uint8_t>(c); }

std::vector<int32_t> enc(const Tokenizer& t, std::string_view s) { return t.encode(s, false, false); }

TEST(TokenizerUnit, MergesApplyInRankOrder) {
  VocabBuilder v;
  v.extra = {"ab", "bc"};
  v.merges = {{"b", "c"}, {"a", "b"}};
  auto t = Tokenizer::create(v.data());
  EXPECT_EQ(enc(*t, "abc"), (std::vector<int32_t>{byte('a'), v.id("bc")}));
  v.merges = {{"a", "b"}, {"b", "c"}};
  t = Tokenizer::create(v.data());
  EXPECT_EQ(enc(*t, "abc"), (std::vector<int32_t>{v.id("ab"), byte('c')}));
}

TEST(TokenizerUnit, RepeatedPairMergesLeftmostFirst) {
  VocabBuilder v;
  v.extra = {"aa", "aaaa"};
  v.merges = {{"a", "a"}, {"aa", "aa"}};
  auto t = Tokenizer::create(v.data());
  EXPECT_EQ(enc(*t, "aaa"), (std::vector<int32_t>{v.id("aa"), byte('a')}));
  EXPECT_EQ(enc(*t, "aaaa"), (std::vector<int32_t>{v.id("aaaa")}));
  EXPECT_EQ(enc(*t, "aaaaa"), (std::vector<int32_t>{v.id("aaaa"), byte('a')}));
}

TEST(TokenizerUnit, MergesChainAcrossLevels) {
  VocabBuilder v;
  v.extra = {"ab", "cd", "abcd"};
  v.merges = {{"c", "d"}, {"a", "b"}, {"ab", "cd"}};
  auto t = Tokenizer::create(v.data());
  EXPECT_EQ(enc(*t, "abcd"), (std::vector<int32_t>{v.id("abcd")}));
  EXPECT_EQ(enc(*t, "abcda"), (std::vector<int32_t>{v.id("abcd"), byte('a')}));
}

TEST(TokenizerUnit, IgnoreMergesTakesWholeWordTokensForLlama3) {
  VocabBuilder v;
  v.extra = {"xyz"};  // in the vocabulary, but no merge builds it
  v.pre = "gpt2";
  EXPECT_EQ(enc(*Tokenizer::create(v.data()), "xyz"), (std::vector<int32_t>{byte('x'), byte('y'), byte('z')}));
  v.pre = "llama-bpe";
  EXPECT_EQ(enc(*Tokenizer::create(v.data()), "xyz"), (std::vector<int32_t>{v.id("xyz")}));
}

TEST(TokenizerUnit, PiecesNeverMergeAcrossPreTokenizerBoundaries) {
  VocabBuilder v;
  v.extra = {"a ", "a b"};
  v.merges = {{"a", " "}, {"a ", "b"}};  // "a" + " " and "a " + "b": only reachable inside one piece
  auto t = Tokenizer::create(v.data());
  // gpt2 splits "a b" into "a" and " b", so the merges never apply.
  EXPECT_EQ(enc(*t, "a b"), (std::vector<int32_t>{byte('a'), byte(' '), byte('b')}));
}

TEST(TokenizerUnit, SpecialTokensMatchOnlyWithParseSpecialUserDefinedAlways) {
  VocabBuilder v;
  v.specials = {{"<|s|>", 3}, {"<u>", 4}, {"<|s|>long", 3}};
  auto t = Tokenizer::create(v.data());
  const int32_t s = 256, u = 257, s_long = 258;
  auto as_text = [&](std::string_view x) { return t->encode(x, false, false); };
  // parse_special off: control-token text is ordinary text, user-defined tokens are still whole.
  std::vector<int32_t> want = as_text("x");
  for (int32_t id : as_text("<|s|>")) want.push_back(id);
  want.push_back(u);
  EXPECT_EQ(t->encode("x<|s|><u>", false, false), want);
  EXPECT_EQ(t->encode("x<|s|><u>", false, true), (std::vector<int32_t>{byte('x'), s, u}));
  // Longest match at the leftmost position.
  EXPECT_EQ(t->encode("<|s|>long<|s|>", false, true), (std::vector<int32_t>{s_long, s}));
  EXPECT_EQ(t->decode({s, u}), "<|s|><u>");
}

TEST(TokenizerUnit, AddSpecialFollowsAddBosAddEos) {
  VocabBuilder v;
  v.specials = {{"<s>", 3}, {"</s>", 3}};
  TokenizerData d = v.data();
  d.bos_id = 256;
  d.eos_id = 257;
  auto t = Tokenizer::create(d);
  EXPECT_FALSE(t->add_bos());
  EXPECT_EQ(t->encode("a", true, false), (std::vector<int32_t>{byte('a')}));
  d.add_bos = true;
  d.add_eos = true;
  t = Tokenizer::create(d);
  EXPECT_TRUE(t->add_bos());
  EXPECT_EQ(t->bos_id(), 256);
  EXPECT_EQ(t->eos_id(), 257);
  EXPECT_EQ(t->encode("a", true, false), (std::vector<int32_t>{256, byte('a'), 257}));
  EXPECT_EQ(t->encode("", true, false), (std::vector<int32_t>{256, 257}));
  EXPECT_EQ(t->encode("a", false, false), (std::vector<int32_t>{byte('a')}));
}

TEST(TokenizerUnit, RoundTripsArbitraryBytesIncludingInvalidUtf8) {
  VocabBuilder v;
  v.extra = {"th", "the", " the", "\xc3\xa9"};
  v.merges = {{"t", "h"}, {"th", "e"}, {" ", "the"}, {"\xc3", "\xa9"}};
  v.pre = "smollm";
  auto t = Tokenizer::create(v.data());
  const std::vector<std::string> fixed = {
      "", "the theme", "caf\xc3\xa9", "\xff\xfe", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "a\x00" "b",
      "\xf0\x9f\x98\x80 emoji", "12 345\n\n\t x"};
  for (const auto& s : fixed) EXPECT_EQ(t->decode(enc(*t, s)), s);
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    EXPECT_EQ(t->decode(enc(*t, s)), s);
    EXPECT_EQ(t->decode(t->encode(s, true, true)), s);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(t->decode(enc(*t, all)), all);
}

TEST(TokenizerUnit, TokenTextIsTheDecodedBytes) {
  VocabBuilder v;
  v.extra = {" the"};
  auto t = Tokenizer::create(v.data());
  EXPECT_EQ(t->token_text(byte(' ')), " ");
  EXPECT_EQ(t->token_text(byte('\n')), "\n");
  EXPECT_EQ(t->token_text(0xE9), "\xe9");  // one raw byte, not UTF-8 for U+00E9
  EXPECT_EQ(t->token_text(v.id(" the")), " the");
  EXPECT_EQ(t->vocab_size(), 257);
  EXPECT_THROW(t->token_text(257), InputError);
  EXPECT_THROW(t->decode({1, -1}), InputError);
}

TEST(TokenizerUnit, ConcurrentEncodingGivesTheSameIds) {
  VocabBuilder v;
  v.extra = {"th", "the"};
  v.merges = {{"t", "h"}, {"th", "e"}};
  auto t = Tokenizer::create(v.data());
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "the other theory " + std::to_string(i) + "\n";
  const std::vector<int32_t> want = enc(*t, text);
  std::vector<std::vector<int32_t>> got(4);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) threads.emplace_back([&, k] { got[k] = enc(*t, text); });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

std::vector<std::string> pieces(std::vector<PreStep> steps, std::string_view s) {
  std::vector<std::string_view> out;
  PreTokenizer(std::move(steps)).split(s, out);
  return {out.begin(), out.end()};
}
using S = std::vector<std::string>;

// Expected splits checked against Hugging Face `tokenizers` 0.23 (the fixtures test many more).
TEST(TokenizerUnit, PreTokenizerSplits) {
  const auto gpt2 = std::vector<PreStep>{PreStep::kGpt2Regex};
  const auto llama3 = std::vector<PreStep>{PreStep::kLlama3Regex};
  EXPECT_EQ(pieces(gpt2, "Hello  world"), (S{"Hello", " ", " world"}));
  EXPECT_EQ(pieces(gpt2, "don't"), (S{"don", "'t"}));
  EXPECT_EQ(pieces(gpt2, "DON'T"), (S{"DON", "'", "T"}));
  EXPECT_EQ(pieces(gpt2, "a\n\nb"), (S{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces(gpt2, "x  \t"), (S{"x", "  \t"}));
  EXPECT_EQ(pieces(llama3, "DON'T"), (S{"DON", "'T"}));
  EXPECT_EQ(pieces(llama3, "12345"), (S{"123", "45"}));
  EXPECT_EQ(pieces(llama3, "a\n\nb"), (S{"a", "\n\n", "b"}));
  EXPECT_EQ(pieces(llama3, "  x"), (S{" ", " x"}));
  EXPECT_EQ(pieces(llama3, "hi!!\n\n there"), (S{"hi", "!!\n\n", " there"}));
  EXPECT_EQ(pieces(llama3, "'\xc5\xbfx"), (S{"'\xc5\xbf", "x"}));  // U+017F folds to 's'
  EXPECT_EQ(pieces({PreStep::kQwen2Regex}, "12345"), (S{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(pieces({PreStep::kDigitsIndividual, PreStep::kGpt2Regex}, " 12"), (S{" ", "1", "2"}));
  EXPECT_EQ(pieces(gpt2, ""), S{});
}

std::string nfc(std::string_view s) {
  std::string out;
  unicode::append_nfc(s, out);
  return out;
}

// Expected forms checked against Hugging Face's NFC normalizer (the parity test covers every code point).
TEST(TokenizerUnit, NfcComposesReordersAndKeepsInvalidBytes) {
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(nfc("e\u0301"), "\u00e9");                         // composes
  EXPECT_EQ(nfc("a\u0301\u0316"), "\u00e1\u0316");             // reorders (220 before 230), then composes
  EXPECT_EQ(nfc("\u212b"), "\u00c5");                          // singleton ANGSTROM SIGN -> A WITH RING
  EXPECT_EQ(nfc("\u1100\u1161\u11a8"), "\uac01");              // Hangul jamo L V T -> syllable
  EXPECT_EQ(nfc("\u0958"), "\u0915\u093c");                     // composition exclusion stays decomposed
  EXPECT_EQ(nfc("\xff e\u0301 \xc3"), "\xff \u00e9 \xc3");        // invalid bytes pass through
  EXPECT_EQ(nfc("\u0301a"), "\u0301a");                         // a leading mark composes with nothing
}

// ---- errors -------------------------------------------------------------------------------------------------

std::string error_of(const TokenizerData& d) {
  try {
    Tokenizer::create(d);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerUnit, RejectsUnsupportedGgufTokenizers) {
  TokenizerData empty;
  empty.source = "model.gguf";
  EXPECT_NE(error_of(empty).find("model.gguf: expected tokenizer data"), std::string::npos) << error_of(empty);
  VocabBuilder v;
  TokenizerData d = v.data();
  d.pre = "deepseek-llm";
  std::string e = error_of(d);
  EXPECT_NE(e.find("unit.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenizer.ggml.pre"), std::string::npos) << e;
  EXPECT_NE(e.find("deepseek-llm"), std::string::npos) << e;
  d = v.data();
  d.model = "llama";
  e = error_of(d);
  EXPECT_NE(e.find("tokenizer.ggml.model"), std::string::npos) << e;
  EXPECT_NE(e.find("\"llama\""), std::string::npos) << e;
  d = v.data();
  d.token_types.pop_back();
  EXPECT_NE(error_of(d).find("tokenizer.ggml.token_type"), std::string::npos);
  d = v.data();
  d.add_bos = true;  // no bos_token_id
  EXPECT_NE(error_of(d).find("add_bos_token"), std::string::npos);
  d = v.data();
  d.bos_id = 100000;
  EXPECT_NE(error_of(d).find("bos_token_id"), std::string::npos);
}

TEST(TokenizerUnit, RejectsMergesThatReferenceUnknownTokens) {
  VocabBuilder v;
  v.extra = {"ab"};
  v.merges = {{"a", "b"}};
  TokenizerData d = v.data();
  d.merges.push_back("a \xe2\x82\xac\xe2\x82\xac");  // right part "€€" is no token
  std::string e = error_of(d);
  EXPECT_NE(e.find("unit.gguf: tokenizer.ggml.merges/1"), std::string::npos) << e;
  EXPECT_NE(e.find("\xe2\x82\xac\xe2\x82\xac"), std::string::npos) << e;
  d = v.data();
  d.merges.push_back("b a");  // both parts exist, "ba" does not
  e = error_of(d);
  EXPECT_NE(e.find("tokenizer.ggml.merges/1"), std::string::npos) << e;
  EXPECT_NE(e.find("\"ba\""), std::string::npos) << e;
  d = v.data();
  d.merges.push_back("ab");
  EXPECT_NE(error_of(d).find("tokenizer.ggml.merges/1"), std::string::npos);
}

// A minimal valid tokenizer.json; tests break one field at a time.
nlohmann::json tiny_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[encode(std::string(1, static_cast<char>(b)))] = b;
  vocab["ab"] = 256;
  return {{"version", "1.0"},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}}},
          {"added_tokens", nlohmann::json::array({{{"id", 257}, {"content", "<|x|>"}, {"special", true}}})},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array({"a b"})}}}};
}

std::string json_error(const nlohmann::json& j) {
  TokenizerData d;
  d.hf_tokenizer_json = j;
  d.source = "tokenizer.json";
  return error_of(d);
}

TEST(TokenizerUnit, BuildsFromTokenizerJsonInBothMergeForms) {
  TokenizerData d;
  d.source = "tokenizer.json";
  d.hf_tokenizer_json = tiny_json();
  auto t = Tokenizer::create(d);
  EXPECT_EQ(t->vocab_size(), 258);
  EXPECT_EQ(enc(*t, "ab"), (std::vector<int32_t>{256}));
  EXPECT_EQ(t->encode("<|x|>", false, true), (std::vector<int32_t>{257}));
  d.hf_tokenizer_json["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "b"})});
  EXPECT_EQ(enc(*Tokenizer::create(d), "ab"), (std::vector<int32_t>{256}));
}

TEST(TokenizerUnit, RejectsUnsupportedTokenizerJson) {
  auto j = tiny_json();
  j["normalizer"] = {{"type", "NFKC"}};
  EXPECT_NE(json_error(j).find("tokenizer.json: /normalizer/type"), std::string::npos);
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::json::array({{{"type", "Lowercase"}}})}};
  EXPECT_NE(json_error(j).find("/normalizer/normalizers/0/type"), std::string::npos);
  j = tiny_json();
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(json_error(j).find("/model/type"), std::string::npos);
  j = tiny_json();
  nlohmann::json split = {{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}};
  nlohmann::json byte_level = {{"type", "ByteLevel"}, {"use_regex", false}};
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({split, byte_level})}};
  std::string e = json_error(j);
  EXPECT_NE(e.find("/pre_tokenizer/pretokenizers/0/pattern/Regex"), std::string::npos) << e;
  EXPECT_NE(e.find("\\\\w+"), std::string::npos) << e;
  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_NE(json_error(j).find("\"Whitespace\""), std::string::npos);
  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_NE(json_error(j).find("ByteLevel"), std::string::npos);
  j = tiny_json();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_NE(json_error(j).find("/pre_tokenizer/add_prefix_space"), std::string::npos);
  j = tiny_json();
  j["model"]["merges"] = nlohmann::json::array({"a b", "a zz"});
  e = json_error(j);
  EXPECT_NE(e.find("/model/merges/1"), std::string::npos) << e;
  EXPECT_NE(e.find("\"zz\""), std::string::npos) << e;
  j = tiny_json();
  j["model"]["byte_fallback"] = true;
  EXPECT_NE(json_error(j).find("/model/byte_fallback"), std::string::npos);
  j = tiny_json();
  j["model"]["vocab"]["neg"] = -3;
  EXPECT_NE(json_error(j).find("/model/vocab/neg"), std::string::npos);
  j = tiny_json();
  j["added_tokens"][0]["single_word"] = true;
  EXPECT_NE(json_error(j).find("/added_tokens/0/single_word"), std::string::npos);
  j = tiny_json();
  j["model"].erase("vocab");
  EXPECT_NE(json_error(j).find("/model/vocab"), std::string::npos);
}

TEST(TokenizerUnit, ReadTokenizerJsonReportsMissingAndInvalidFiles) {
  EXPECT_THROW(read_tokenizer_json("/nonexistent/tokenizer.json"), InputError);
  const std::string path = ::testing::TempDir() + "/bad_tokenizer.json";
  {
    std::ofstream f(path);
    f << "{ not json";
  }
  try {
    read_tokenizer_json(path);
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

TEST(TokenizerUnit, NfcNormalizerAppliesBeforePreTokenization) {
  auto j = tiny_json();
  j["normalizer"] = {{"type", "NFC"}};
  TokenizerData d;
  d.source = "tokenizer.json";
  d.hf_tokenizer_json = j;
  auto with_nfc = Tokenizer::create(d);
  d.hf_tokenizer_json["normalizer"] = nullptr;
  auto without = Tokenizer::create(d);
  EXPECT_EQ(with_nfc->encode("e\u0301", false, false), without->encode("\u00e9", false, false));
  EXPECT_NE(without->encode("e\u0301", false, false), without->encode("\u00e9", false, false));
  // Special tokens are matched on the raw text, so normalization cannot join them with their neighbours.
  EXPECT_EQ(with_nfc->encode("<|x|>\u0301", false, true)[0], 257);
}

}  // namespace
}  // namespace bp::rt
