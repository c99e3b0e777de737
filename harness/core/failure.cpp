#include "harness/core/failure.h"

#include <new>

#include "harness/common/error.h"

namespace bp {

const char* failure_kind_name(FailureKind k) {
  switch (k) {
    case FailureKind::Input: return "input";
    case FailureKind::OutOfMemory: return "out-of-memory";
    case FailureKind::Internal: return "internal";
    case FailureKind::Runtime: return "runtime";
  }
  return "runtime";
}

FailureKind classify_failure(const std::exception& e) {
  if (auto* r = dynamic_cast<const RememberedFailure*>(&e)) return r->kind();
  if (dynamic_cast<const InputError*>(&e)) return FailureKind::Input;
  if (dynamic_cast<const std::bad_alloc*>(&e)) return FailureKind::OutOfMemory;
  if (dynamic_cast<const std::logic_error*>(&e)) return FailureKind::Internal;
  return FailureKind::Runtime;
}

}  // namespace bp
