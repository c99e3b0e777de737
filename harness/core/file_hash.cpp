#include "harness/core/file_hash.h"

#include "harness/runtime/io/mapped_file.h"
#include "harness/runtime/io/sha256.h"

namespace bp {

std::string sha256_text(const std::string& s) {
  return rt::sha256_hex({rt::ByteRange{reinterpret_cast<const uint8_t*>(s.data()), s.size()}});
}

std::string sha256_file(const std::string& path) {
  auto f = rt::MappedFile::open(path);
  return rt::sha256_hex({rt::ByteRange{f->data(), f->size()}});
}

}  // namespace bp
