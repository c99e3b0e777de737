#pragma once
// Helpers for the io tests: byte builders for hand-made GGUF / safetensors images, and an assertion that a call
// throws bp::InputError whose message contains given fragments.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/common/error.h"

namespace bp::rt::test {

// Little-endian byte image under construction.
struct Bytes {
  std::string b;
  Bytes& u8(uint8_t v) { return put(v); }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& f32(float v) { return put(v); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Bytes& raw(const std::string& s) {
    b += s;
    return *this;
  }
  Bytes& pad_to(size_t align) {
    b.resize((b.size() + align - 1) / align * align, '\0');
    return *this;
  }
  template <typename T>
  Bytes& put(T v) {
    char c[sizeof(T)];
    std::memcpy(c, &v, sizeof(T));
    b.append(c, sizeof(T));
    return *this;
  }
  // An exact-size heap copy, so ASan/valgrind would flag any read past the end.
  std::vector<uint8_t> vec() const { return std::vector<uint8_t>(b.begin(), b.end()); }
};

// GGUF header: magic, version, tensor count, key/value count.
inline Bytes gguf_header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  Bytes g;
  g.raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  return g;
}

// safetensors image: header JSON (padded to 8 bytes with spaces) + data.
inline std::string safetensors_image(const nlohmann::json& header, const std::string& data) {
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');
  Bytes b;
  b.u64(h.size()).raw(h).raw(data);
  return b.b;
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Expects fn() to throw bp::InputError whose what() contains every fragment.
inline void expect_input_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected bp::InputError, got success";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected bp::InputError, got another exception: " << e.what();
  }
}

}  // namespace bp::rt::test
