// Checksummed data-file reading, JSONL parsing and the user-supplied-file options, on files made in a temp dir.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "datasets/common/data_file.h"
#include "datasets/common/jsonl.h"
#include "datasets/common/user_file.h"
#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/registry.h"

namespace fs = std::filesystem;

namespace bp::data {
namespace {

class TempRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("bench-data-test-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_ / "sub");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel, std::ios::binary) << text; }
  fs::path root_;
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_F(TempRoot, ReadVerifiedReturnsTheBytesWhenTheHashMatches) {
  write("sub/a.txt", "hello\n");
  EXPECT_EQ(read_verified(root_.string(), {"sub/a.txt", sha256_text("hello\n")}), "hello\n");
}

TEST_F(TempRoot, MismatchNamesPathExpectedAndActual) {
  write("sub/a.txt", "hello\n");
  const std::string want(64, '0');
  const std::string msg = message_of([&] { read_verified(root_.string(), {"sub/a.txt", want}); });
  EXPECT_NE(msg.find((root_ / "sub/a.txt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(want), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_text("hello\n")), std::string::npos) << msg;
}

TEST_F(TempRoot, MissingFileNamesThePathSearchedAndTheRoot) {
  const std::string want(64, 'a');
  const std::string msg = message_of([&] { read_verified(root_.string(), {"sub/none.jsonl", want}); });
  EXPECT_NE(msg.find((root_ / "sub/none.jsonl").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(want), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(DataFiles, LinesAndHashes) {
  EXPECT_EQ(split_lines("a\nb\n").size(), 2u);
  EXPECT_EQ(split_lines("a\n\nb").size(), 3u);
  EXPECT_EQ(split_lines("").size(), 0u);
  EXPECT_TRUE(is_sha256_hex(std::string(64, 'f')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'F')));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
}

TEST(Jsonl, RecordsCarryLineNumbersAndErrorsPointAtThem) {
  auto recs = parse_jsonl("{\"a\": \"x\"}\n\n{\"a\": 3}\n", "f.jsonl");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].line, 3u);
  EXPECT_EQ(string_field(recs[0], "a", "f.jsonl"), "x");
  try {
    string_field(recs[1], "a", "f.jsonl");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "f.jsonl");
    EXPECT_EQ(e.pointer(), "/line/3/a");
    EXPECT_NE(e.expected().find("expected a string, got number"), std::string::npos);
  }
  try {
    parse_jsonl("{\"a\": 1}\n[1, 2]\n", "g.jsonl");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/line/2");
  }
  EXPECT_THROW(parse_jsonl("{oops\n", "g.jsonl"), InputError);
  EXPECT_THROW(field(recs[0], "missing", "f.jsonl"), InputError);
}

TEST(UserFile, SchemaRequiresAHashAndARelativePath) {
  const TaskInfo* t = TaskRegistry::find("hellaswag");
  ASSERT_NE(t, nullptr);
  auto check = [&](const json& opts) {
    Params p(t->options.canonicalize(opts, "s.json", "/tasks/0/options"));
    t->validate(p, "s.json", "/tasks/0");
  };
  try {
    check(json::object());
    FAIL() << "the default (empty) sha256 must be rejected";
  } catch (const InputError& e) {
    EXPECT_EQ(e.pointer(), "/tasks/0/options/sha256");
  }
  const std::string h(64, 'c');
  EXPECT_NO_THROW(check({{"sha256", h}}));
  EXPECT_THROW(check({{"sha256", h}, {"file", "../outside.jsonl"}}), InputError);
  EXPECT_THROW(check({{"sha256", h}, {"file", "/abs/file.jsonl"}}), InputError);
  Params p(t->options.canonicalize({{"sha256", h}, {"file", "hs/x.jsonl"}}, "", ""));
  const auto files = t->data_files(p);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].relative_path, "hs/x.jsonl");
  EXPECT_EQ(files[0].sha256, h);
}

}  // namespace
}  // namespace bp::data
