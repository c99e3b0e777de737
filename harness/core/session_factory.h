#pragma once
// Builds the Session that runs one method on one model on one device: the method's KV cache (or the fp16 reference
// cache for methods without one), its token selector, and, for a device, the device session. The single place
// where "which device" is decided, so the runner and `bench generate` behave the same.
#include <memory>
#include <string>
#include <vector>

#include "harness/core/registry.h"
#include "harness/runtime/model.h"

namespace bp {

class SessionFactory {
 public:
  // Throws InputError(source, pointer, why) when the device cannot be used here. `source`/`pointer` name where the
  // device was chosen (a suite file and "/device", or "--device" and "").
  SessionFactory(rt::Device device, int threads, uint64_t seed, const std::string& source = "",
                 const std::string& pointer = "");
  rt::Device device() const { return device_; }

  // A fresh session of a configuration's methods on `model` (already carrying its weight member's transform): the
  // cache of the member filling the kv-cache role (the fp16 reference cache when none does) and the token selector
  // of the member filling the tokens role. Throws InputError when a member cannot run on the device (no device
  // implementation, or it selects tokens, which only the CPU backend supports).
  std::unique_ptr<rt::Session> make(const rt::Model& model, const std::vector<const MethodUse*>& stack);
  // The same for a stack of one.
  std::unique_ptr<rt::Session> make(const rt::Model& model, const MethodInfo& method, const Params& params);
  // The reference configuration: the fp16 cache with default parameters.
  std::unique_ptr<rt::Session> make_reference(const rt::Model& model);

 private:
  rt::Device device_;
  int threads_;
  uint64_t seed_;
  std::string source_, pointer_;
  // Token selectors must outlive the sessions that point to them.
  std::vector<std::unique_ptr<rt::TokenSelector>> selectors_;
};

}  // namespace bp
