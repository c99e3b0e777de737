#pragma once
// Why a configuration failed, as stored with it (configurations.error_kind) and told apart at the CLI: only bad
// input is the user's to fix (exit code 2); the other kinds are the machine's or ours.
#include <exception>
#include <stdexcept>
#include <string>

namespace bp {

enum class FailureKind {
  Input,        // InputError: a file, field or parameter the user gave (the message names it)
  OutOfMemory,  // std::bad_alloc: the machine ran out of memory
  Internal,     // std::logic_error and its kin: a broken invariant, a bug in BenchPress or in a method
  Runtime,      // anything else that went wrong while running (a failed kernel, a numeric failure, ...)
};
const char* failure_kind_name(FailureKind k);  // "input", "out-of-memory", "internal", "runtime"
FailureKind classify_failure(const std::exception& e);

// A failure remembered (e.g. a model that did not load) and reported again for every configuration that needs it,
// with its original kind.
class RememberedFailure : public std::runtime_error {
 public:
  RememberedFailure(FailureKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  FailureKind kind() const { return kind_; }

 private:
  FailureKind kind_;
};

}  // namespace bp
