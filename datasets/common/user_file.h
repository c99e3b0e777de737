#pragma once
// Tasks whose data is not in the shared data folder (arc-easy, hellaswag) take the file from the user: options
// `file` (a path relative to the data root) and `sha256` (required: the file's identity, checked like any data file).
#include <string>

#include "harness/core/task.h"

namespace bp::data {

// Adds `file` (default `default_path`) and `sha256` (default "", which validation rejects) to a schema.
void add_user_file_options(ParamSchema& s, const std::string& default_path);
// TaskInfo::validate for those options (errors point at <entry>/options/<name>): sha256 must be 64 lowercase hex digits; file a relative path that stays
// under the data root.
void validate_user_file(const Params& p, const std::string& file, const std::string& pointer);
DataFile user_file(const Params& p);

}  // namespace bp::data
