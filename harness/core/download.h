#pragma once
// Downloading one file whose sha256 is known, shared by `bench fetch-data` and `bench fetch-model`. curl (a
// subprocess, as git and pip are) writes <dest>.part; an interrupted transfer leaves that file, and the next call
// resumes it with an HTTP range request (a server that cannot resume, or a stale partial file, makes it start over).
// Only a file whose sha256 matches is renamed to <dest> (atomic on one file system), so a reader never sees a
// partial or wrong file.
#include <cstdio>
#include <string>

namespace bp {

// Throws std::runtime_error naming `label`, the URL and the failure (curl missing, HTTP error, wrong hash). A
// wrong hash deletes the partial file; a failed transfer keeps it for the next call to resume.
void download_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                       const std::string& label, std::FILE* log);

}  // namespace bp
