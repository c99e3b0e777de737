#pragma once
// The runner: suite -> plan -> (verified inputs) -> one stored result set per configuration.
//   1. parse and validate the suite, expand it, apply --filter, order it so each model loads once;
//   2. --dry-run: print the plan and stop;
//   3. resolve the data root, verify every data file's sha256 and hash every model: any problem stops the run
//      before anything is written (exit code 2);
//   4. insert the run and its configurations as 'pending' (or, with --resume, pick the latest run of this exact
//      suite text and select its configurations without a complete result, matched by identity);
//   5. run each configuration, committing its results in one transaction as soon as it completes; an exception
//      fails that configuration (stored with its message) and the run goes on.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "harness/core/shard.h"
#include "harness/core/suite.h"

namespace bp {

struct RunOptions {
  std::string db_path = "results/bench.db";
  std::string filter;                    // empty: every configuration
  bool dry_run = false;
  bool resume = false;
  std::optional<int> threads;            // overrides the suite's "threads"
  std::optional<std::string> data_root;  // overrides the suite's "data_root"
  std::string command_line;              // stored with the run
  std::optional<ShardSpec> shard;        // --shard i/N: run only part i of N (shard.h, shard_run.h)
  std::optional<std::string> costs_from; // --costs-from DB: wall times that balance the shards
  std::FILE* plan_out = stdout;          // --dry-run's plan
  std::FILE* log = stderr;               // progress lines (nullptr: silent)
};

// How the runner identifies and loads models. The default uses the runtime; tests of the runner's bookkeeping
// substitute one whose tasks need no model.
struct ModelBackend {
  // sha256 identifying the model's file(s); throws InputError when missing or unreadable.
  std::function<std::string(const ModelSpec&)> sha256;
  std::function<std::unique_ptr<rt::Model>(const ModelSpec&, int threads)> load;
};
ModelBackend runtime_model_backend();

struct RunOutcome {
  int64_t run_id = 0;      // 0 for a dry run
  size_t planned = 0;      // configurations selected to run
  size_t failed = 0;
  int exit_code = 0;       // 0 all succeeded, 1 some failed
};

RunOutcome run_suite(const std::string& suite_path, const RunOptions& opts,
                     const ModelBackend& backend = runtime_model_backend());

// Calibration text for weight methods that ask for it: the first WeightTransform::calibration_tokens() tokens of
// this file (2,048 unless the method asks for more).
// (WikiText-2's validation split: never the test text that perplexity is measured on.)
inline const DataFile kCalibrationData{
    "wikitext-2-raw/wiki.valid.raw", "4cd0f6876d07a413aa911261ff6d363c72d757d47f0fdd6015702014c89cb9c7",
    "https://raw.githubusercontent.com/MichaelZhouwang/Commonsense_Pretraining/9ae917e83845a9af8f70c88252f82839de938772/datasets/wikitext-2-raw/wiki.valid.raw"};

}  // namespace bp
