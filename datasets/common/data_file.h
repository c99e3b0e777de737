#pragma once
// Reading a task's data files: every byte a task reads comes from a file whose sha256 was checked in the same read,
// so a task can never score a file other than the one its identity names (the runner also checks before running;
// this second check covers tasks run outside the runner and files changed in between).
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/task.h"

namespace bp::data {

// Full path of a data file under the root (lexically normalised).
std::string data_path(const std::string& data_root, const std::string& relative_path);

// Reads the file and checks its sha256. Throws InputError(path, "", ...) naming the path searched, the data root,
// the expected hash and (for a mismatch) the actual one.
std::string read_verified(const std::string& data_root, const DataFile& f);

// Splits text into lines at '\n' (a final empty line after a trailing '\n' is not returned; a '\r' before the '\n'
// is kept, so a CRLF file fails its checksum rather than being silently accepted).
std::vector<std::string_view> split_lines(std::string_view text);

// True when `s` is a sha256 as the data READMEs and `sha256sum` print it: 64 lowercase hex digits.
bool is_sha256_hex(const std::string& s);

}  // namespace bp::data
