#pragma once
// Self-registering plugins. A method (methods/<name>/) or a task (datasets/<name>/) registers itself from its own
// translation unit at static-initialisation time, in the manner of GoogleTest's TEST():
//
//   BENCH_REGISTER_METHOD(kv_int8) {
//     bp::MethodInfo m;
//     m.name = "kv-int8"; m.roles = {bp::Role::KvCache}; m.composes.partners = {bp::Role::Weights}; ...
//     return m;
//   }
//
// Plugins are compiled into an OBJECT library (bench_plugins), so no registration object is dropped by the linker.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/common/param_schema.h"
#include "harness/runtime/device_session.h"
#include "harness/runtime/kv_cache.h"
#include "harness/runtime/linear_op.h"
#include "harness/runtime/token_selector.h"

namespace bp {

// The parts of a run a method can take over. A configuration is a stack of methods holding each role at most once,
// in this order: the weights are transformed first, the token selector decides which prefill tokens take part in
// attention, and the KV cache stores what the attention leaves behind.
enum class Role { Weights, Tokens, KvCache };
inline constexpr Role kRoleOrder[] = {Role::Weights, Role::Tokens, Role::KvCache};
const char* role_name(Role r);  // "weights", "tokens", "kv-cache"
// "kv-cache", or "weights+kv-cache" for a method filling several roles (the store's method_kind column).
std::string roles_text(const std::vector<Role>& roles);

// With which other methods a method may share a stack. Applied by the suite validator to every pair of members in
// both directions, and printed by `bench describe` (composition_text): one rule, one place.
struct Composition {
  // Roles that other members of the stack may fill. Empty: the method runs alone.
  std::vector<Role> partners;
  // Methods refused by name although they fill an accepted role, each with the reason the user is shown.
  std::vector<std::pair<std::string, std::string>> refused;
};

// Everything a method needs to build its per-sequence objects.
struct MethodContext {
  rt::KvGeometry geometry;   // layers, heads, head_dim, rope, threads
  const rt::ModelConfig* config = nullptr;
  uint64_t seed = 0;         // for methods with random choices (probe tokens, ...): results are deterministic per seed
  rt::DeviceGeometry device_geometry;  // for make_device_kv_cache (device runs only)
};

struct MethodInfo {
  std::string name;          // registry name used in suites, e.g. "kv-int8"
  // The roles the method fills (one for most methods; several for a method that, e.g., selects tokens and owns the
  // cache), each served by its factory below.
  std::vector<Role> roles;
  std::string description;   // one line
  ParamSchema schema;
  // Human-readable rules between the method's own parameters (shown by `bench describe`); the rules between
  // methods are `composes`.
  std::string notes;
  Composition composes;
  // Optional cross-parameter validation after schema validation; throws InputError(file, pointer, expected).
  std::function<void(const Params&, const std::string& file, const std::string& pointer)> validate;
  // Factories. A KV method sets make_kv_cache (and/or make_device_kv_cache), a weight method make_weight_transform,
  // a token method make_token_selector; a method with several roles sets one per role.
  std::function<std::unique_ptr<rt::KvCache>(const MethodContext&, const Params&)> make_kv_cache;
  std::function<std::unique_ptr<rt::WeightTransform>(const MethodContext&, const Params&)> make_weight_transform;
  std::function<std::unique_ptr<rt::TokenSelector>(const MethodContext&, const Params&)> make_token_selector;
  // The method's cache on a device (CUDA builds; harness/runtime/cuda). Unset: the method runs on the CPU only.
  std::function<std::unique_ptr<rt::DeviceKvCache>(const MethodContext&, const Params&)> make_device_kv_cache;

  bool fills(Role r) const;
  // Why `other` may not share a stack with this method under this method's rule; empty when it may.
  std::string refuses(const MethodInfo& other) const;
  // The rule as one sentence for `bench describe`, generated from `roles` and `composes`.
  std::string composition_text() const;
  std::string partners_text() const;  // "weights and tokens", or "nothing"
};

// The KV method of the reference configuration for KL divergence (alone, with its default parameters, on the
// unmodified model).
inline constexpr const char* kReferenceMethod = "fp16";

// A method with concrete, canonical parameters.
struct MethodUse {
  const MethodInfo* info = nullptr;
  Params params;
};

class MethodRegistry {
 public:
  // Aborts on a duplicate name or a method without roles (programming errors).
  static bool add(MethodInfo info);
  static const MethodInfo* find(const std::string& name);
  static std::vector<const MethodInfo*> all();  // sorted by name
};

}  // namespace bp

#define BENCH_REGISTER_METHOD(ident)                                                                  \
  static ::bp::MethodInfo bench_method_info_##ident();                                               \
  [[maybe_unused]] static const bool bench_method_registered_##ident =                              \
      ::bp::MethodRegistry::add(bench_method_info_##ident());                                        \
  static ::bp::MethodInfo bench_method_info_##ident()
