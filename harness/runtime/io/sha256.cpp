#include "harness/runtime/io/sha256.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace bp::rt {

std::string sha256_hex(const std::vector<ByteRange>& parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  for (const auto& p : parts) {
    // Feed large mappings in 64 MiB pieces: keeps page-in and hashing interleaved, and the size type narrow.
    constexpr size_t kChunk = size_t{64} << 20;
    for (size_t off = 0; off < p.size; off += kChunk) {
      const size_t n = p.size - off < kChunk ? p.size - off : kChunk;
      if (EVP_DigestUpdate(ctx.get(), p.data + off, n) != 1) throw std::runtime_error("OpenSSL: SHA-256 update failed");
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) throw std::runtime_error("OpenSSL: SHA-256 final failed");
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace bp::rt
