#include "harness/runtime/io/gguf_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "harness/common/error.h"
#include "harness/runtime/io/dtype_info.h"

namespace bp::rt {

namespace {

template <typename T>
void append(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}

void append_str(std::string& s, const std::string& v) {
  append<uint64_t>(s, v.size());
  s += v;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};

}  // namespace

void GgufWriter::put(std::string key, uint32_t type, std::string value) {
  for (auto& kv : kvs_)
    if (kv.key == key) {
      kv.type = type;
      kv.value = std::move(value);
      return;
    }
  kvs_.push_back({std::move(key), type, std::move(value)});
}

void GgufWriter::add_raw(const GgufKv& kv) {
  put(kv.key, static_cast<uint32_t>(kv.type), std::string(reinterpret_cast<const char*>(kv.raw), kv.raw_size));
}
void GgufWriter::add_u32(const std::string& key, uint32_t v) {
  std::string s;
  append(s, v);
  put(key, static_cast<uint32_t>(GgufType::U32), std::move(s));
}
void GgufWriter::add_i32(const std::string& key, int32_t v) {
  std::string s;
  append(s, v);
  put(key, static_cast<uint32_t>(GgufType::I32), std::move(s));
}
void GgufWriter::add_f32(const std::string& key, float v) {
  std::string s;
  append(s, v);
  put(key, static_cast<uint32_t>(GgufType::F32), std::move(s));
}
void GgufWriter::add_bool(const std::string& key, bool v) {
  put(key, static_cast<uint32_t>(GgufType::BOOL), std::string(1, v ? '\1' : '\0'));
}
void GgufWriter::add_string(const std::string& key, const std::string& v) {
  std::string s;
  append_str(s, v);
  put(key, static_cast<uint32_t>(GgufType::STRING), std::move(s));
}
void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::string s;
  append<uint32_t>(s, static_cast<uint32_t>(GgufType::STRING));
  append<uint64_t>(s, v.size());
  for (const auto& x : v) append_str(s, x);
  put(key, static_cast<uint32_t>(GgufType::ARRAY), std::move(s));
}
void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  std::string s;
  append<uint32_t>(s, static_cast<uint32_t>(GgufType::I32));
  append<uint64_t>(s, v.size());
  for (int32_t x : v) append(s, x);
  put(key, static_cast<uint32_t>(GgufType::ARRAY), std::move(s));
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<uint64_t>& ne, DType type, Fill fill) {
  uint64_t numel = 1;
  for (uint64_t d : ne) numel *= d;
  uint64_t nbytes = 0;
  if (ne.empty() || !dtype_nbytes(type, ne[0], numel, &nbytes))
    throw InputError("", fmt::format("tensor '{}'", name),
                     fmt::format("expected a row length that is a multiple of the {} block size", dtype_name(type)));
  tensors_.push_back({name, ne, type, nbytes, std::move(fill)});
}

void GgufWriter::write(const std::string& path) const {
  const uint64_t a = alignment_;
  auto pad_to = [a](uint64_t x) { return (x + a - 1) / a * a; };

  std::string head;
  append<uint32_t>(head, 0x46554747u);  // "GGUF"
  append<uint32_t>(head, 3);
  append<uint64_t>(head, tensors_.size());
  append<uint64_t>(head, kvs_.size());
  for (const auto& kv : kvs_) {
    append_str(head, kv.key);
    append<uint32_t>(head, kv.type);
    head += kv.value;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    append_str(head, t.name);
    append<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) append<uint64_t>(head, d);
    append<uint32_t>(head, static_cast<uint32_t>(t.type));
    append<uint64_t>(head, offset);
    offset = pad_to(offset + t.nbytes);
  }
  head.resize(pad_to(head.size()), '\0');

  const std::string tmp = path + ".tmp";
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  auto fail = [&](const char* what) {
    const std::string err = std::strerror(errno);
    f.reset();
    std::remove(tmp.c_str());
    throw InputError(path, "", fmt::format("cannot {} the output file: {}", what, err));
  };
  if (!f) fail("create");
  if (std::fwrite(head.data(), 1, head.size(), f.get()) != head.size()) fail("write");
  std::vector<uint8_t> buf;
  for (const auto& t : tensors_) {
    const uint64_t padded = pad_to(t.nbytes);
    buf.assign(static_cast<size_t>(padded), 0);
    t.fill(buf.data(), static_cast<size_t>(t.nbytes));
    if (std::fwrite(buf.data(), 1, buf.size(), f.get()) != buf.size()) fail("write");
  }
  if (std::fflush(f.get()) != 0) fail("write");
  f.reset();
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
}

}  // namespace bp::rt
