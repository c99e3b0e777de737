#pragma once
// SHA-256 of files and strings as lowercase hex (the runtime's OpenSSL-based sha256_hex underneath).
#include <string>

namespace bp {

std::string sha256_text(const std::string& s);
// Throws InputError(path, "", ...) when the file cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace bp
