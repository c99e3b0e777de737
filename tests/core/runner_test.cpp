// The runner's bookkeeping with test tasks that need no model: what is stored, failures, metric selection, data
// file verification, dry runs, --resume, and a kill -9 in the middle of a run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/provenance.h"
#include "harness/core/runner.h"
#include "harness/core/store.h"
#include "harness/runtime/device_session.h"
#include "tests/common/test_env.h"
#include "tests/core/temp_dir.h"
#include "tests/core/test_plugins.h"

namespace bp {
namespace {

void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// Models are a small file: identified by its sha256, never loaded (the test tasks do not use them).
ModelBackend fake_backend() {
  ModelBackend b;
  b.sha256 = [](const ModelSpec& m) { return sha256_file(m.path); };
  b.load = [](const ModelSpec&, int) { return std::unique_ptr<rt::Model>(); };
  return b;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(dir / "model.gguf", "not really a model"); }
  std::string suite(const std::string& name, const std::string& tasks, const std::string& methods,
                    const std::string& extra = "") {
    std::string path = dir / (name + ".json");
    write_file(path, R"({"name": ")" + name + R"(", "model": "model.gguf", "threads": 2, "seed": 3, "tasks": )" + tasks +
                         R"(, "methods": )" + methods + extra + "}");
    return path;
  }
  RunOptions options() {
    RunOptions o;
    o.db_path = dir / "results/bench.db";
    o.log = nullptr;
    o.data_root = dir / "data";
    return o;
  }
  RunOutcome run(const std::string& suite_path, RunOptions o) { return run_suite(suite_path, o, fake_backend()); }
  json load(int64_t run_id) {
    Store s(dir / "results/bench.db", false);
    return s.load_run(run_id);
  }
  test::TempDir dir;
};

TEST_F(RunnerTest, StoresEveryConfigurationWithItsIdentityAndProvenance) {
  std::string path = suite("echo", R"([{"task": "test-echo", "options": {"reps": 3, "contexts": [128, 256]}}])",
                           R"([{"method": "fp16"}, {"method": "test-kv", "params": {"bits": 4}}])");
  RunOutcome out = run(path, options());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.planned, 2u);
  EXPECT_EQ(out.failed, 0u);
  json doc = load(out.run_id);
  const json& r = doc["run"];
  EXPECT_EQ(r["status"], "complete");
  EXPECT_EQ(r["suite_name"], "echo");
  EXPECT_EQ(r["suite_sha256"], sha256_file(path));
  EXPECT_EQ(r["threads"], 2);
  EXPECT_EQ(r["seed"], 3);
  EXPECT_EQ(r["build_id"], current_build_id());
  EXPECT_EQ(r["git_commit"].get<std::string>().size(), 40u) << r["git_commit"];
  EXPECT_FALSE(r["cpu_model"].get<std::string>().empty());
  EXPECT_GT(r["cpu_cores"].get<int>(), 0);
  EXPECT_FALSE(r["compiler"].get<std::string>().empty());
  ASSERT_EQ(doc["configurations"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& c = doc["configurations"][i];
    EXPECT_EQ(c["status"], "complete");
    EXPECT_EQ(c["exec_order"], i + 1);
    EXPECT_EQ(c["model_sha256"], sha256_file(dir / "model.gguf"));
    EXPECT_EQ(c["protocol"], "test-echo");
    EXPECT_EQ(c["protocol_version"], 3);
    EXPECT_EQ(c["protocol_params"]["threads"], 2);
    EXPECT_EQ(c["protocol_params"]["seed"], 3);
    EXPECT_EQ(c["protocol_params"]["options"]["reps"], 3);
    EXPECT_EQ(c["identity"].get<std::string>().size(), 64u);
    EXPECT_GE(c["wall_s"].get<double>(), 0.0);
    // score + 2 contexts x 3 repetitions + method_is_reference; one summary per context; 3 items.
    EXPECT_EQ(c["results"].size(), 8u);
    EXPECT_EQ(c["summaries"].size(), 2u);
    EXPECT_EQ(c["items"].size(), 3u);
  }
  EXPECT_NE(doc["configurations"][0]["identity"], doc["configurations"][1]["identity"]);
  EXPECT_EQ(doc["configurations"][0]["params"], json::object());
  EXPECT_EQ(doc["configurations"][1]["params"]["bits"], 4);
  // The task is told it is the reference only for fp16 alone with its defaults.
  auto reference_flag = [&](int i) {
    for (const auto& m : doc["configurations"][i]["results"])
      if (m["metric"] == "method_is_reference") return m["value"].get<double>();
    return -1.0;
  };
  EXPECT_EQ(reference_flag(0), 1.0);
  EXPECT_EQ(reference_flag(1), 0.0);
  const json& s = doc["configurations"][0]["summaries"][0];
  EXPECT_EQ(s["n"], 3);
  EXPECT_DOUBLE_EQ(s["median"].get<double>(), 11.0);
}

TEST_F(RunnerTest, LoadsEachModelOnce) {
  write_file(dir / "other.gguf", "another model");
  std::string path = dir / "two.json";
  write_file(path, R"({"name": "two", "model": ["model.gguf", "other.gguf"], "tasks": [{"task": "test-echo",
      "sweep": {"n": [1, 2, 3]}}], "methods": [{"method": "fp16"}, {"method": "test-kv"}]})");
  std::vector<std::string> loads;
  ModelBackend b = fake_backend();
  b.load = [&](const ModelSpec& m, int) {
    loads.push_back(std::filesystem::path(m.path).filename().string());
    return std::unique_ptr<rt::Model>();
  };
  RunOutcome out = run_suite(path, options(), b);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.planned, 12u);
  EXPECT_EQ(loads, (std::vector<std::string>{"model.gguf", "other.gguf"}));
  json doc = load(out.run_id);
  EXPECT_NE(doc["configurations"][0]["model_sha256"], doc["configurations"][6]["model_sha256"]);
}

TEST_F(RunnerTest, FailuresAreStoredWithTheirMessageAndTheOthersStillRun) {
  std::string path = suite("mixed", R"([{"task": "test-fail"}, {"task": "test-partial"}, {"task": "test-echo"}])",
                           R"([{"method": "fp16"}])");
  RunOutcome out = run(path, options());
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_EQ(out.failed, 2u);
  json doc = load(out.run_id);
  EXPECT_EQ(doc["run"]["status"], "failed");
  const json& cs = doc["configurations"];
  EXPECT_EQ(cs[0]["status"], "failed");
  EXPECT_EQ(cs[0]["error"], "planned failure");
  // A task that reported results and then failed leaves none of them behind.
  EXPECT_EQ(cs[1]["status"], "failed");
  EXPECT_EQ(cs[1]["error"], "failed after reporting");
  EXPECT_TRUE(cs[1]["results"].empty());
  EXPECT_TRUE(cs[1]["items"].empty());
  EXPECT_EQ(cs[2]["status"], "complete");
  EXPECT_EQ(cs[2]["exec_order"], 3);
}

TEST_F(RunnerTest, EachFailureIsStoredWithItsKind) {
  std::string path = suite("kinds", R"([{"task": "test-fail", "sweep": {"kind": ["runtime", "input", "out-of-memory", "internal"]}},
                                        {"task": "test-echo"}])",
                           R"([{"method": "fp16"}])");
  RunOutcome out = run(path, options());
  EXPECT_EQ(out.exit_code, 1);  // failed configurations: exit 1, never 2 (that is for a bad suite)
  EXPECT_EQ(out.failed, 4u);
  const json cs = load(out.run_id)["configurations"];
  ASSERT_EQ(cs.size(), 5u);
  EXPECT_EQ(cs[0]["error_kind"], "runtime");
  EXPECT_EQ(cs[1]["error_kind"], "input");
  EXPECT_EQ(cs[1]["error"], "test-input.json: /x: a planned bad input");
  EXPECT_EQ(cs[2]["error_kind"], "out-of-memory");
  EXPECT_EQ(cs[3]["error_kind"], "internal");
  EXPECT_EQ(cs[4]["status"], "complete");
  EXPECT_TRUE(cs[4]["error_kind"].is_null());
}

TEST_F(RunnerTest, StacksAreStoredWithTheirMembersAndShareOneModelPerWeightMember) {
  std::string path = suite("stacks", R"([{"task": "test-echo"}])",
                           R"([{"method": "fp16"},
                               {"stack": [{"method": "test-kv", "sweep": {"bits": [8, 4]}},
                                          {"method": "test-weight", "sweep": {"group": [64, 128]}}]}])");
  std::vector<std::string> loads;
  ModelBackend b = fake_backend();
  b.load = [&](const ModelSpec& m, int) {
    loads.push_back(std::filesystem::path(m.path).filename().string());
    return std::unique_ptr<rt::Model>();
  };
  RunOptions o = options();
  o.data_root = test::data_root();  // weight members calibrate: the calibration text is verified before the run
  RunOutcome out = run_suite(path, o, b);
  // The unmodified model once, then one copy per distinct weight member (group 64, group 128), not one per stack.
  EXPECT_EQ(loads.size(), 3u);
  json doc = load(out.run_id);
  const json& cs = doc["configurations"];
  ASSERT_EQ(cs.size(), 5u);
  EXPECT_EQ(cs[0]["method"], "fp16");
  EXPECT_EQ(cs[0]["stack"], json::parse(R"([{"method": "fp16", "params": {}}])"));
  EXPECT_EQ(cs[1]["label"], "test-echo / test-weight(group=64) + test-kv(bits=8)");
  EXPECT_EQ(cs[1]["method"], "test-weight+test-kv");
  EXPECT_EQ(cs[1]["method_kind"], "weights+kv-cache");
  EXPECT_EQ(cs[1]["params"]["test-weight"]["group"], 64);
  EXPECT_EQ(cs[1]["params"]["test-kv"]["bits"], 8);
  EXPECT_EQ(cs[1]["stack"][0]["method"], "test-weight");
  EXPECT_EQ(cs[1]["stack"][1]["params"]["ratio"], 0.5);
  // The fake backend returns no model: the transformed configurations fail, each with the remembered message.
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_EQ(cs[i]["status"], "failed");
    EXPECT_EQ(cs[i]["error_kind"], "runtime");
    EXPECT_NE(cs[i]["error"].get<std::string>().find("preparing the weights of test-weight(group="), std::string::npos);
  }
  std::set<std::string> identities;
  for (const auto& c : cs) identities.insert(c["identity"].get<std::string>());
  EXPECT_EQ(identities.size(), 5u);
  // One row per member in configuration_members, in role order.
  Store st(dir / "results/bench.db", false);
  Stmt q(st.db(), "SELECT m.position, m.roles, m.method FROM configuration_members m JOIN configurations c "
                  "ON c.id = m.configuration_id WHERE c.plan_index = 1 ORDER BY m.position");
  std::vector<std::string> members;
  while (q.step()) members.push_back(std::to_string(q.col_int(0)) + " " + q.col_text(1) + " " + q.col_text(2));
  EXPECT_EQ(members, (std::vector<std::string>{"0 weights test-weight", "1 kv-cache test-kv"}));
}

TEST_F(RunnerTest, MetricSelectionRestrictsWhatIsStored) {
  std::string path = suite("sel", R"([{"task": "test-echo"}])", R"([{"method": "fp16"}])", R"(, "metrics": ["score"])");
  RunOutcome out = run(path, options());
  ASSERT_EQ(out.exit_code, 0);
  json c = load(out.run_id)["configurations"][0];
  ASSERT_EQ(c["results"].size(), 1u);
  EXPECT_EQ(c["results"][0]["metric"], "score");
  EXPECT_EQ(c["protocol_params"]["metrics"], json::parse(R"(["score"])"));
}

TEST_F(RunnerTest, DryRunPrintsThePlanAndWritesNothing) {
  std::string path = suite("dry", R"([{"task": "test-echo", "sweep": {"n": [1, 2]}}])",
                           R"([{"method": "fp16"}, {"method": "test-weight"}])");
  RunOptions o = options();
  o.dry_run = true;
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  o.plan_out = mem;
  RunOutcome out = run(path, o);
  std::fclose(mem);
  std::string plan(buf, len);
  free(buf);
  EXPECT_EQ(out.run_id, 0);
  EXPECT_EQ(out.planned, 4u);
  EXPECT_NE(plan.find("suite dry"), std::string::npos) << plan;
  // Execution order: the unmodified model's configurations first, then the weight method's.
  EXPECT_NE(plan.find("    1     1  test-echo(n=1) / fp16\n    2     3  test-echo(n=2) / fp16\n"
                      "    3     2  test-echo(n=1) / test-weight\n    4     4  test-echo(n=2) / test-weight\n"),
            std::string::npos)
      << plan;
  EXPECT_FALSE(std::filesystem::exists(dir / "results/bench.db"));
}

TEST_F(RunnerTest, DataFilesAreVerifiedBeforeAnythingIsWritten) {
  std::string path = suite("data", R"([{"task": "test-sleep", "options": {"with_data": true}}])", R"([{"method": "fp16"}])");
  RunOptions o = options();
  try {
    run(path, o);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ": /tasks/0: task \"test-sleep\" needs data file test-data/hello.txt: not found at " + dir.path() +
                  "/data/test-data/hello.txt (data root " + dir.path() + "/data from --data-root); expected a file with sha256 " +
                  test::test_data_sha256() + ". A suite names this file: put it under the data root yourself.");
  }
  write_file(dir / "data/test-data/hello.txt", "changed\n");
  try {
    run(path, o);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": /tasks/0: task \"test-sleep\" needs data file test-data/hello.txt: " + dir.path() +
                                         "/data/test-data/hello.txt has sha256 " + sha256_text("changed\n") + "; expected " +
                                         test::test_data_sha256() + " (data root " + dir.path() + "/data from --data-root)");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "results/bench.db"));
  write_file(dir / "data/test-data/hello.txt", test::kTestDataText);
  RunOutcome out = run(path, o);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(load(out.run_id)["configurations"][0]["dataset_files"],
            json::parse(R"([{"path": "test-data/hello.txt", "sha256": ")" + test::test_data_sha256() + "\"}]"));
}

TEST_F(RunnerTest, MissingModelIsAnInputError) {
  std::string path = dir / "nomodel.json";
  write_file(path, R"({"name": "n", "model": "absent.gguf", "tasks": [{"task": "test-echo"}], "methods": [{"method": "fp16"}]})");
  try {
    run(path, options());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ": /model: model not found at " + dir.path() + "/absent.gguf; expected an existing .gguf file or model directory");
  }
}

// A device this machine cannot use stops the run before anything is written; one it can use runs.
TEST_F(RunnerTest, TheSuitesDeviceMustBeUsableHere) {
  std::string path = suite("dev", R"([{"task": "test-echo"}])", R"([{"method": "fp16"}])", R"(, "device": "cuda")");
  std::string why;
  if (!rt::device_available(rt::Device::Cuda, &why)) {
    try {
      run(path, options());
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), path + ": /device: device \"cuda\" cannot be used: " + why);
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "results/bench.db"));
  } else {
    RunOutcome out = run(path, options());
    EXPECT_EQ(out.exit_code, 0);
    EXPECT_EQ(load(out.run_id)["run"]["device"], "cuda");
  }
}

TEST_F(RunnerTest, ResumeRerunsExactlyTheConfigurationsWithoutACompleteResult) {
  const std::string marker = dir / "fixed";
  std::string path = suite("resume", R"([{"task": "test-echo"}, {"task": "test-fail", "options": {"unless_file": ")" +
                                         marker + R"("}}, {"task": "test-echo", "options": {"n": 5}}])",
                           R"([{"method": "fp16"}])");
  RunOutcome first = run(path, options());
  ASSERT_EQ(first.exit_code, 1);
  json before = load(first.run_id);
  ASSERT_EQ(before["configurations"][1]["status"], "failed");

  RunOptions o = options();
  o.resume = true;
  write_file(marker, "");  // the failure is fixed
  RunOutcome second = run(path, o);
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.run_id, first.run_id);
  EXPECT_EQ(second.planned, 1u);
  json after = load(first.run_id);
  EXPECT_EQ(after["run"]["status"], "complete");
  for (int i : {0, 2}) {  // untouched: same results, times and order
    EXPECT_EQ(after["configurations"][i]["ended_at"], before["configurations"][i]["ended_at"]);
    EXPECT_EQ(after["configurations"][i]["exec_order"], before["configurations"][i]["exec_order"]);
    EXPECT_EQ(after["configurations"][i]["results"], before["configurations"][i]["results"]);
  }
  EXPECT_EQ(after["configurations"][1]["status"], "complete");
  EXPECT_TRUE(after["configurations"][1]["error"].is_null());
  EXPECT_EQ(after["configurations"][1]["exec_order"], 4);
  EXPECT_EQ(after["configurations"][1]["results"].size(), 1u);

  // Nothing left to do: a second resume runs nothing and keeps the run complete.
  RunOutcome third = run(path, o);
  EXPECT_EQ(third.planned, 0u);
  EXPECT_EQ(third.exit_code, 0);
  EXPECT_EQ(load(first.run_id)["run"]["status"], "complete");
}

TEST_F(RunnerTest, ResumeNeedsAnEarlierRunOfTheSameSuiteText) {
  std::string path = suite("r2", R"([{"task": "test-echo"}])", R"([{"method": "fp16"}])");
  RunOptions o = options();
  o.resume = true;
  try {
    run(path, o);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(std::string(e.what()).find("--resume: no run of this suite (sha256 " + sha256_file(path)) != std::string::npos)
        << e.what();
  }
}

// A run whose process is still alive is not resumed by a second process (both would run the same configurations).
TEST_F(RunnerTest, ResumeRefusesARunThatIsStillRunning) {
  std::string path = suite("live", R"([{"task": "test-echo"}])", R"([{"method": "fp16"}])");
  RunOutcome first = run(path, options());
  {
    Store s(dir / "results/bench.db", false);
    Stmt st(s.db(), "UPDATE runs SET status = 'running', pid = ? WHERE id = ?");
    st.bind_all((int64_t)getpid(), first.run_id).run();  // this (live) process, same host
  }
  RunOptions o = options();
  o.resume = true;
  try {
    run(path, o);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "results/bench.db" + ": --resume: run " + std::to_string(first.run_id) +
                                         " is still running in another process");
  }
}

// A real child process runs a suite of slow configurations and is killed with SIGKILL while it runs; the database
// must pass integrity_check, hold complete configurations with all their results and nothing else, and --resume
// must run exactly the others.
TEST_F(RunnerTest, KillNineMidRunLeavesAConsistentDatabaseThatResumes) {
  std::string path = suite("kill", R"([{"task": "test-sleep", "options": {"ms": 150}, "sweep": {"id": [0, 1, 2, 3, 4, 5, 6, 7]}}])",
                           R"([{"method": "fp16"}])");
  const std::string db = dir / "results/bench.db";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    try {
      code = run(path, options()).exit_code;
    } catch (...) {
      code = 9;
    }
    _exit(code);
  }
  // Kill once some but not all configurations are complete.
  int complete = 0;
  for (int i = 0; i < 400 && complete < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!std::filesystem::exists(db)) continue;
    try {
      Store s(db, false);
      Stmt st(s.db(), "SELECT COUNT(*) FROM configurations WHERE status = 'complete'");
      st.step();
      complete = (int)st.col_int(0);
    } catch (const std::exception&) {
      // the child may be creating the schema right now
    }
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";

  Store store(db, false);
  {
    Stmt st(store.db(), "PRAGMA integrity_check");
    st.step();
    EXPECT_EQ(st.col_text(0), "ok");
  }
  json runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "interrupted");
  json before = store.load_run(runs[0]["id"].get<int64_t>());
  std::vector<std::string> incomplete;
  for (const auto& c : before["configurations"]) {
    if (c["status"] == "complete") {
      EXPECT_EQ(c["results"].size(), 1u);
    } else {
      EXPECT_TRUE(c["results"].empty());
      incomplete.push_back(c["label"]);
    }
  }
  ASSERT_GE(before["configurations"].size() - incomplete.size(), 3u);
  ASSERT_FALSE(incomplete.empty());

  RunOptions o = options();
  o.resume = true;
  RunOutcome resumed = run(path, o);
  EXPECT_EQ(resumed.exit_code, 0);
  EXPECT_EQ(resumed.planned, incomplete.size());
  json after = store.load_run(resumed.run_id);
  EXPECT_EQ(after["run"]["status"], "complete");
  for (size_t i = 0; i < after["configurations"].size(); ++i) {
    const json& a = after["configurations"][i];
    const json& b = before["configurations"][i];
    EXPECT_EQ(a["status"], "complete");
    if (b["status"] == "complete") {
      EXPECT_EQ(a["ended_at"], b["ended_at"]) << a["label"];
      EXPECT_EQ(a["results"], b["results"]) << a["label"];
    }
  }
}

}  // namespace
}  // namespace bp
