#pragma once
// Configuration identity. A result belongs to exactly one identity and is never reused for another:
//   comparison key = sha256 over (model sha256, weight storage, canonical method stack (every member with every
//                    parameter, in role order), task, protocol, protocol version, canonical protocol params, dataset
//                    files with their sha256s)
//   identity       = sha256 over (comparison key, build id)
// The comparison key lines up the same measurement across builds (bench compare); the identity also pins the build
// (the sha256 of the bench executable), so `--resume` never mixes results of two builds.
#include <string>

namespace bp {

struct IdentityFields {
  std::string model_sha256;
  std::string model_storage;    // "f32" | "f16"
  std::string stack;            // canonical JSON text: [{"method": ..., "params": {...}}, ...] in role order
  std::string task;
  std::string protocol;
  long long protocol_version = 0;
  std::string protocol_params;  // canonical JSON text: task options, seed, threads, device, metric selection
  std::string dataset_files;    // canonical JSON text: [{"path": ..., "sha256": ...}] sorted by path
};

std::string comparison_key(const IdentityFields& f);
std::string identity_hash(const std::string& comparison_key, const std::string& build_id);

}  // namespace bp
