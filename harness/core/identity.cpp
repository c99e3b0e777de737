#include "harness/core/identity.h"

#include "harness/core/file_hash.h"

namespace bp {

// Fields are joined with a newline: none of them can contain a raw newline (hex digests, registry names, and
// compact JSON, which escapes control characters).
std::string comparison_key(const IdentityFields& f) {
  // v2: methods are a stack (v1 hashed one method name and its parameters).
  std::string s = "benchpress-config-v2\n" + f.model_sha256 + "\n" + f.model_storage + "\n" + f.stack + "\n" +
                  f.task + "\n" + f.protocol + "\n" + std::to_string(f.protocol_version) + "\n" + f.protocol_params +
                  "\n" + f.dataset_files;
  return sha256_text(s);
}

std::string identity_hash(const std::string& key, const std::string& build_id) {
  return sha256_text("benchpress-identity-v1\n" + key + "\n" + build_id);
}

}  // namespace bp
