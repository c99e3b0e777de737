#pragma once
// Self-registering plugins. A method (methods/<name>/) or a task (datasets/<name>/) registers itself from its own
// translation unit at static-initialisation time, in the manner of GoogleTest's TEST():
//
//   BENCH_REGISTER_METHOD(kv_int8) {
//     bp::MethodInfo m;
//     m.name = "kv-int8"; m.kind = bp::MethodKind::KvCache; ...
//     return m;
//   }
//
// Plugins are compiled into an OBJECT library (bench_plugins), so no registration object is dropped by the linker.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/core/param_schema.h"
#include "harness/runtime/device_session.h"
#include "harness/runtime/kv_cache.h"
#include "harness/runtime/linear_op.h"
#include "harness/runtime/token_selector.h"

namespace bp {

enum class MethodKind { KvCache, Weight, Token, Composite };
const char* method_kind_name(MethodKind k);

// Everything a method needs to build its per-sequence objects.
struct MethodContext {
  rt::KvGeometry geometry;   // layers, heads, head_dim, rope, threads
  const rt::ModelConfig* config = nullptr;
  uint64_t seed = 0;         // for methods with random choices (probe tokens, ...): results are deterministic per seed
  rt::DeviceGeometry device_geometry;  // for make_device_kv_cache (device runs only)
};

struct MethodInfo {
  std::string name;          // registry name used in suites, e.g. "kv-int8"
  MethodKind kind = MethodKind::KvCache;
  std::string description;   // one line
  ParamSchema schema;
  // Human-readable rules: which parameter combinations / compositions are allowed (shown by `bench describe`).
  std::string composition;
  // Optional cross-parameter validation after schema validation; throws InputError(file, pointer, expected).
  std::function<void(const Params&, const std::string& file, const std::string& pointer)> validate;
  // Factories. A KV method sets make_kv_cache, a weight method make_weight_transform, a token method
  // make_token_selector; a composite may set several.
  std::function<std::unique_ptr<rt::KvCache>(const MethodContext&, const Params&)> make_kv_cache;
  std::function<std::unique_ptr<rt::WeightTransform>(const MethodContext&, const Params&)> make_weight_transform;
  std::function<std::unique_ptr<rt::TokenSelector>(const MethodContext&, const Params&)> make_token_selector;
  // The method's cache on a device (CUDA builds; harness/runtime/cuda). Unset: the method runs on the CPU only.
  std::function<std::unique_ptr<rt::DeviceKvCache>(const MethodContext&, const Params&)> make_device_kv_cache;
};

class MethodRegistry {
 public:
  static bool add(MethodInfo info);  // aborts on duplicate names (a programming error)
  static const MethodInfo* find(const std::string& name);
  static std::vector<const MethodInfo*> all();  // sorted by name
};

}  // namespace bp

#define BENCH_REGISTER_METHOD(ident)                                                                  \
  static ::bp::MethodInfo bench_method_info_##ident();                                               \
  [[maybe_unused]] static const bool bench_method_registered_##ident =                              \
      ::bp::MethodRegistry::add(bench_method_info_##ident());                                        \
  static ::bp::MethodInfo bench_method_info_##ident()
