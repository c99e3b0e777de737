#pragma once
// Errors that reach the user. Bad input always names the file, the JSON pointer of the offending field and what
// was expected, so the message alone is enough to fix the input.
#include <stdexcept>
#include <string>

namespace bp {

// Invalid user input (suite files, parameters, data files, model files). Exit code 2 at the CLI.
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string pointer, std::string expected)
      : std::runtime_error(format(file, pointer, expected)),
        file_(std::move(file)), pointer_(std::move(pointer)), expected_(std::move(expected)) {}

  const std::string& file() const { return file_; }
  const std::string& pointer() const { return pointer_; }
  const std::string& expected() const { return expected_; }

  // "FILE: POINTER: EXPECTED", parts left out when empty.
  static std::string format(const std::string& file, const std::string& pointer, const std::string& expected) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!pointer.empty()) s += pointer + ": ";
    return s + expected;
  }

 private:
  std::string file_, pointer_, expected_;
};

// Appends a JSON-pointer reference token, escaping '~' and '/' as RFC 6901 requires.
inline std::string json_pointer_append(const std::string& base, const std::string& token) {
  std::string out = base + "/";
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}
inline std::string json_pointer_append(const std::string& base, size_t index) {
  return base + "/" + std::to_string(index);
}

}  // namespace bp
