#pragma once
// The `storage` parameters a method exposes to choose its TokenStore format (token_store.h), so eviction methods
// (h2o, streamingllm, snapkv, ...) compose with quantization without a composite method:
//   storage            "fp16" | "int8" | "int4" | "int2"   (default given by the method; usually "fp16")
//   storage_group      0 | 32 | 64 | 128: channels per scale group of a quantized format (0 = the whole head);
//                      must divide head_dim (checked when the cache is made, where head_dim is known)
//   storage_symmetric  true: absmax scale, implied min (no mins stored); false: asymmetric min-max
// With storage = "fp16" the two others must keep their defaults (they would change nothing; rejected so that a
// sweep never produces two identical configurations with different names).
//
// Method code only: this header uses ParamSchema/Params from harness/common (below the runtime). Usage in a
// registration:
//   m.schema = ParamSchema().integer(...);  bp::rt::kv::add_storage_params(m.schema, "fp16");
//   m.validate = [](const Params& p, const std::string& f, const std::string& ptr) {
//     bp::rt::kv::validate_storage_params(p, f, ptr); ... };
//   factory: TokenFormat fmt = bp::rt::kv::storage_format(params, ctx.geometry.head_dim);
#include <string>

#include "harness/common/error.h"
#include "harness/common/param_schema.h"
#include "harness/runtime/kv/token_store.h"

namespace bp::rt::kv {

inline constexpr long long kStorageDefaultGroup = 32;

inline ParamSchema& add_storage_params(ParamSchema& s, const std::string& default_storage = "fp16") {
  s.enumeration("storage", default_storage, {"fp16", "int8", "int4", "int2"},
                "format of every kept token (kv/token_store.h): FP16 rows, or per-token quantization to 8/4/2-bit "
                "packed codes with FP16 scales (and mins unless storage_symmetric); bytes counted as held");
  s.integer_of("storage_group", kStorageDefaultGroup, {0, 32, 64, 128},
               "quantized storage: channels per scale group (0 = whole head; must divide head_dim)");
  s.boolean("storage_symmetric", false,
            "quantized storage: symmetric absmax (no mins stored) instead of asymmetric min-max");
  return s;
}

inline int storage_bits(const std::string& storage) {
  if (storage == "int8") return 8;
  if (storage == "int4") return 4;
  if (storage == "int2") return 2;
  return 16;
}

// Pointer of a parameter inside a method entry ("<entry>/params/<name>").
inline std::string param_pointer(const std::string& entry_pointer, const std::string& name) {
  return json_pointer_append(json_pointer_append(entry_pointer, "params"), name);
}

inline void validate_storage_params(const Params& p, const std::string& file, const std::string& pointer) {
  if (p.get_string("storage") != "fp16") return;
  if (p.get_int("storage_group") != kStorageDefaultGroup)
    throw InputError(file, param_pointer(pointer, "storage_group"),
                     "storage_group applies to quantized storage only; expected it left at its default (" +
                         std::to_string(kStorageDefaultGroup) + ") with storage \"fp16\"");
  if (p.get_bool("storage_symmetric"))
    throw InputError(file, param_pointer(pointer, "storage_symmetric"),
                     "storage_symmetric applies to quantized storage only; expected false with storage \"fp16\"");
}

// The format the parameters choose, checked against head_dim (InputError naming the parameter otherwise).
inline TokenFormat storage_format(const Params& p, int head_dim) {
  TokenFormat f;
  f.bits = storage_bits(p.get_string("storage"));
  if (f.packed()) {
    f.group = (int)p.get_int("storage_group");
    f.symmetric = p.get_bool("storage_symmetric");
  }
  if (const char* e = f.error(head_dim))
    throw InputError("", "/params/storage_group",
                     std::string("storage format ") + f.label() + " is not usable with head_dim " +
                         std::to_string(head_dim) + ": " + e);
  return f;
}

// The device caches of the eviction methods store FP16 rows only: a clear error for any other `storage`.
inline void require_fp16_storage_on_device(const Params& p, const std::string& method) {
  if (p.get_string("storage") != "fp16")
    throw InputError("", "/params/storage",
                     "the CUDA backend runs " + method + " with storage \"fp16\" only, got \"" +
                         p.get_string("storage") + "\"");
}

// A sentence for a method's `composition` text.
inline const char* storage_composition_text() {
  return "Composes with per-token KV quantization through `storage` (fp16|int8|int4|int2, with storage_group and "
         "storage_symmetric for the quantized formats): the kept tokens are stored in that format and every byte "
         "of codes, scales and mins is counted.";
}

}  // namespace bp::rt::kv
