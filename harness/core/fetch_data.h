#pragma once
// `bench fetch-data`: puts the data files tasks read into the data root (by default the cache,
// ${XDG_CACHE_HOME:-~/.cache}/benchpress/data), each checked against its sha256 before it appears there.
//
// Where a file comes from, in order of precedence:
//   - a local mirror (`--from DIR` or $BENCH_DATA_MIRROR): DIR/<relative path> is copied (offline machines, CI);
//   - an HTTP mirror with the data root's layout (`--base-url URL` or $BENCH_DATA_BASE_URL): URL/<relative path>;
//   - the file's canonical public source, named in the task's registration (DataFile::url).
// Downloads go through curl into <file>.part, which a later run resumes (HTTP range request) after an interrupted
// transfer; only a file whose sha256 matches is renamed into place (atomic on one file system), so a reader never
// sees a partial or wrong file. A wrong hash deletes the partial file and fails, naming the source and both hashes.
#include <cstdio>
#include <string>
#include <vector>

#include "harness/core/task.h"

namespace bp {

struct DataSource {
  std::string mirror_dir;  // non-empty: copy from this local directory
  std::string base_url;    // non-empty: download from this URL prefix instead of each file's canonical URL
};

// The source given by the environment: $BENCH_DATA_MIRROR, $BENCH_DATA_BASE_URL.
DataSource data_source_from_env();

enum class FetchStatus { AlreadyThere, Copied, Downloaded };

// Makes `root`/f.relative_path hold the verified file. Throws std::runtime_error naming the file, the source and
// what went wrong (no source for a file without a URL, a mirror without the file, a download failure, a hash
// mismatch); nothing is left at the destination in that case.
FetchStatus fetch_data_file(const DataFile& f, const std::string& root, const DataSource& source, std::FILE* log);

// Every data file the registered tasks read with their default options, plus the calibration text of weight
// methods, without duplicates (files named only by a suite, which have no URL, are not listed).
std::vector<DataFile> default_data_files();
// The files one registered task reads with its default options ("calibration" names the calibration text).
// Throws InputError for an unknown name.
std::vector<DataFile> task_data_files(const std::string& task);

}  // namespace bp
