#pragma once
// One run, read back from the store (Store::load_run's document), as the tables `bench show` and `bench export`
// print.
#include <string>

#include "harness/cli/table.h"
#include "harness/common/param_schema.h"

namespace bp::cli {

// Metadata lines: suite, status, times, commit, build, machine.
std::string run_header_text(const json& run);
// (name, value) pairs of the run's metadata, for the markdown export.
TextTable run_metadata_table(const json& run);
// One row per (configuration, metric, labels): a single value, or the median of the repetitions with n, min-max
// and CV. Configurations without results (failed, pending) get one row saying so.
TextTable results_table(const json& doc);
// One row per stored value (every repetition), with the configuration's identity columns: the CSV export.
TextTable results_rows(const json& doc);
// "#3 label: message" for each failed configuration, one per line (empty when none failed).
std::string failures_text(const json& doc);

// Compact number formatting for tables: 6 significant digits.
std::string format_value(double v);

}  // namespace bp::cli
