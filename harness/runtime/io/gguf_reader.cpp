#include "harness/runtime/io/gguf_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "harness/common/error.h"
#include "harness/runtime/io/dtype_info.h"

namespace bp::rt {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

// A bounds-checked read position in the buffer. Every read states what it reads, so truncation errors say where.
class Cursor {
 public:
  Cursor(const uint8_t* d, size_t n, const std::string& file) : d_(d), n_(n), file_(file) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }

  void need(size_t bytes, const std::string& what) const {
    if (bytes > left())
      throw InputError(file_, what,
                       fmt::format("expected {} more bytes at offset {}, got end of file at {} bytes (truncated?)",
                                   bytes, pos_, n_));
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const std::string& what) {
    const auto len = read<uint64_t>(what + " (string length)");
    if (len > left())
      throw InputError(
          file_, what,
          fmt::format("string length {} at offset {} runs past the end of the file ({} bytes)", len, pos_ - 8, n_));
    std::string_view s(reinterpret_cast<const char*>(d_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  void skip(size_t bytes, const std::string& what) {
    need(bytes, what);
    pos_ += bytes;
  }
  const uint8_t* at(size_t p) const { return d_ + p; }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& file_;
};

std::string utf8_sanitized(std::string_view s);
bool utf8_valid(std::string_view s) { return utf8_sanitized(s) == s; }

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

// Skips one value of type t (not an array) after checking it is inside the buffer.
void skip_scalar_or_string(Cursor& c, GgufType t, const std::string& what) {
  if (t == GgufType::STRING) {
    c.read_string(what);
  } else {
    c.skip(gguf_scalar_size(t), what);
  }
}

GgufKv read_kv(Cursor& c, size_t index, const std::string& file) {
  GgufKv kv;
  const std::string where = fmt::format("metadata[{}]", index);
  kv.key = std::string(c.read_string(where + " key"));
  if (kv.key.empty()) throw InputError(file, where, "expected a non-empty key, got an empty string");
  // Keys become JSON object keys (ModelFileInfo::metadata), which must be UTF-8.
  if (!utf8_valid(kv.key)) throw InputError(file, where, "expected a UTF-8 key, got invalid bytes");
  const std::string what = fmt::format("metadata '{}'", kv.key);
  const auto type = c.read<uint32_t>(what + " (value type)");
  if (!valid_type(type)) throw InputError(file, what, fmt::format("expected a GGUF value type 0..12, got {}", type));
  kv.type = static_cast<GgufType>(type);
  const size_t start = c.pos();
  if (kv.type == GgufType::ARRAY) {
    const auto et = c.read<uint32_t>(what + " (array element type)");
    if (!valid_type(et)) throw InputError(file, what, fmt::format("expected an array element type 0..12, got {}", et));
    kv.elem_type = static_cast<GgufType>(et);
    if (kv.elem_type == GgufType::ARRAY)
      throw InputError(file, what, "expected an array of scalars or strings, got an array of arrays");
    kv.count = c.read<uint64_t>(what + " (array length)");
    if (kv.elem_type == GgufType::STRING) {
      // Each string needs at least its 8-byte length: reject absurd counts before looping over them.
      if (kv.count > c.left() / 8)
        throw InputError(
            file, what,
            fmt::format("array of {} strings cannot fit in the {} bytes left in the file", kv.count, c.left()));
      for (uint64_t i = 0; i < kv.count; ++i) c.read_string(fmt::format("{}[{}]", what, i));
    } else {
      const size_t es = gguf_scalar_size(kv.elem_type);
      if (kv.count > c.left() / es)
        throw InputError(file, what,
                         fmt::format("array of {} {} values ({} bytes each) runs past the end of the file ({} "
                                     "bytes left at offset {})",
                                     kv.count, gguf_type_name(kv.elem_type), es, c.left(), c.pos()));
      c.skip(static_cast<size_t>(kv.count) * es, what);
    }
  } else {
    skip_scalar_or_string(c, kv.type, what);
  }
  kv.raw = c.at(start);
  kv.raw_size = c.pos() - start;
  return kv;
}

GgufTensorInfo read_tensor_info(Cursor& c, size_t index, const std::string& file) {
  GgufTensorInfo t;
  const std::string where = fmt::format("tensor_infos[{}]", index);
  t.name = std::string(c.read_string(where + " name"));
  if (t.name.empty()) throw InputError(file, where, "expected a non-empty tensor name, got an empty string");
  if (!utf8_valid(t.name)) throw InputError(file, where, "expected a UTF-8 tensor name, got invalid bytes");
  const std::string what = fmt::format("tensor '{}'", t.name);
  const auto n_dims = c.read<uint32_t>(what + " (n_dims)");
  if (n_dims < 1 || n_dims > kMaxDims)
    throw InputError(file, what, fmt::format("expected 1..{} dimensions, got {}", kMaxDims, n_dims));
  uint64_t numel = 1;
  for (uint32_t i = 0; i < n_dims; ++i) {
    const auto d = c.read<uint64_t>(fmt::format("{} (dimension {})", what, i));
    if (d == 0 || d > static_cast<uint64_t>(INT64_MAX))
      throw InputError(file, what, fmt::format("expected dimension {} in 1..2^63-1, got {}", i, d));
    if (__builtin_mul_overflow(numel, d, &numel) || numel > static_cast<uint64_t>(INT64_MAX))
      throw InputError(file, what, "expected an element count below 2^63, got an overflowing shape");
    t.ne.push_back(d);
  }
  t.ggml_type = c.read<uint32_t>(what + " (type)");
  t.offset = c.read<uint64_t>(what + " (offset)");
  const auto dt = dtype_from_ggml(t.ggml_type);
  if (!dt)
    throw InputError(file, what,
                     fmt::format("expected a supported tensor type (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, "
                                 "Q4_K, Q6_K), got {} (ggml type {})",
                                 ggml_type_name(t.ggml_type), t.ggml_type));
  if (!dtype_nbytes(*dt, t.ne[0], numel, &t.nbytes))
    throw InputError(file, what,
                     fmt::format("expected a row length (dimension 0) that is a multiple of {} for {}, got {}",
                                 dtype_info(*dt).block, dtype_name(*dt), t.ne[0]));
  return t;
}

std::string utf8_sanitized(std::string_view s) {
  // Replaces bytes that do not form valid UTF-8 with U+FFFD so the JSON view can always be serialized.
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    const unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // overlong
    if (ok && len == 3) {
      const unsigned cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);  // overlong / surrogate
    }
    if (ok && len == 4) {
      const unsigned cp =
          ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += 1;
    }
  }
  return out;
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Decodes the scalar at p (type t, not STRING/ARRAY) to JSON.
nlohmann::json scalar_json(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::U8:
      return load<uint8_t>(p);
    case GgufType::I8:
      return load<int8_t>(p);
    case GgufType::U16:
      return load<uint16_t>(p);
    case GgufType::I16:
      return load<int16_t>(p);
    case GgufType::U32:
      return load<uint32_t>(p);
    case GgufType::I32:
      return load<int32_t>(p);
    case GgufType::F32:
      return load<float>(p);
    case GgufType::BOOL:
      return load<uint8_t>(p) != 0;
    case GgufType::U64:
      return load<uint64_t>(p);
    case GgufType::I64:
      return load<int64_t>(p);
    case GgufType::F64:
      return load<double>(p);
    default:
      return nullptr;
  }
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::U16:
    case GgufType::I16:
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::BOOL:
      return true;
    default:
      return false;
  }
}

// Integer scalar at p as a (value, negative) pair wide enough for every GGUF integer type.
bool integer_at(GgufType t, const uint8_t* p, uint64_t* mag, bool* neg) {
  int64_t s = 0;
  *neg = false;
  switch (t) {
    case GgufType::U8:
    case GgufType::BOOL:
      *mag = load<uint8_t>(p);
      return true;
    case GgufType::U16:
      *mag = load<uint16_t>(p);
      return true;
    case GgufType::U32:
      *mag = load<uint32_t>(p);
      return true;
    case GgufType::U64:
      *mag = load<uint64_t>(p);
      return true;
    case GgufType::I8:
      s = load<int8_t>(p);
      break;
    case GgufType::I16:
      s = load<int16_t>(p);
      break;
    case GgufType::I32:
      s = load<int32_t>(p);
      break;
    case GgufType::I64:
      s = load<int64_t>(p);
      break;
    default:
      return false;
  }
  *neg = s < 0;
  *mag = s < 0 ? static_cast<uint64_t>(-(s + 1)) + 1 : static_cast<uint64_t>(s);
  return true;
}

[[noreturn]] void type_error(const GgufFile& f, const GgufKv& kv, const char* expected) {
  std::string got = gguf_type_name(kv.type);
  if (kv.type == GgufType::ARRAY) got += std::string(" of ") + gguf_type_name(kv.elem_type);
  throw InputError(f.file, fmt::format("metadata '{}'", kv.key), fmt::format("expected {}, got {}", expected, got));
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const kNames[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                       "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? kNames[i] : "invalid";
}

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::BOOL:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

const GgufKv* GgufFile::find(std::string_view key) const {
  for (const auto& kv : kvs)
    if (kv.key == key) return &kv;
  return nullptr;
}

GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& file) {
  GgufFile f;
  f.file = file;
  Cursor c(data, size, file);
  if (size < 4)
    throw InputError(file, "header", fmt::format("expected a GGUF file (magic 'GGUF'), got {} bytes", size));
  const auto magic = c.read<uint32_t>("header magic");
  if (magic != kMagic) throw InputError(file, "header", "expected the GGUF magic 'GGUF' at offset 0, got other bytes");
  f.version = c.read<uint32_t>("header version");
  if (f.version == 1)
    throw InputError(
        file, "header version",
        "expected GGUF version 2 or 3, got version 1 (32-bit counts; re-convert with a current llama.cpp)");
  if (f.version != 2 && f.version != 3) {
    const bool swapped = f.version > 0xFFFF && __builtin_bswap32(f.version) <= 3;
    throw InputError(file, "header version",
                     fmt::format("expected GGUF version 2 or 3, got {}{}", f.version,
                                 swapped ? " (a big-endian GGUF file, which is not supported)" : ""));
  }
  const auto n_tensors = c.read<uint64_t>("header tensor_count");
  const auto n_kv = c.read<uint64_t>("header metadata_kv_count");
  // Smallest encodings: a key/value takes >= 8 (key length) + 4 (type) + 1 bytes, a tensor info >= 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13)
    throw InputError(file, "header metadata_kv_count",
                     fmt::format("expected a count that fits in the file ({} bytes), got {}", size, n_kv));
  if (n_tensors > c.left() / 32)
    throw InputError(file, "header tensor_count",
                     fmt::format("expected a count that fits in the file ({} bytes), got {}", size, n_tensors));

  std::set<std::string, std::less<>> keys;
  f.kvs.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv = read_kv(c, static_cast<size_t>(i), file);
    if (!keys.insert(kv.key).second)
      throw InputError(file, fmt::format("metadata '{}'", kv.key), "expected unique keys, got a duplicate");
    f.kvs.push_back(std::move(kv));
  }
  if (const GgufKv* a = f.find("general.alignment")) {
    if (!is_integer(a->type) || a->type == GgufType::BOOL) type_error(f, *a, "an unsigned integer (uint32)");
    const uint64_t v = gguf_uint(f, *a);
    if (v == 0 || (v & (v - 1)) != 0 || v > (1u << 30))
      throw InputError(file, "metadata 'general.alignment'",
                       fmt::format("expected a power of two between 1 and 2^30, got {}", v));
    f.alignment = v;
  }

  std::set<std::string, std::less<>> names;
  f.tensors.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t = read_tensor_info(c, static_cast<size_t>(i), file);
    if (!names.insert(t.name).second)
      throw InputError(file, fmt::format("tensor '{}'", t.name), "expected unique tensor names, got a duplicate");
    if (t.offset % f.alignment != 0)
      throw InputError(file, fmt::format("tensor '{}'", t.name),
                       fmt::format("expected a data offset aligned to {} bytes, got {}", f.alignment, t.offset));
    f.tensors.push_back(std::move(t));
  }

  const uint64_t pos = c.pos();
  f.data_offset = (pos + f.alignment - 1) / f.alignment * f.alignment;  // cannot overflow: pos <= size, align <= 2^30
  if (!f.tensors.empty() && f.data_offset > size)
    throw InputError(file, "data section",
                     fmt::format("expected the data section at offset {} inside the file, got a file of {} bytes",
                                 f.data_offset, size));

  for (auto& t : f.tensors) {
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(f.data_offset, t.offset, &begin) || __builtin_add_overflow(begin, t.nbytes, &end))
      throw InputError(
          file, fmt::format("tensor '{}'", t.name),
          fmt::format("data offset {} + {} bytes beyond end of file ({} bytes)", t.offset, t.nbytes, size));
    if (end > size)
      throw InputError(file, fmt::format("tensor '{}'", t.name),
                       fmt::format("data range [{}, {}) beyond end of file ({} bytes)", begin, end, size));
    t.data = data + begin;
  }
  // Two tensors sharing bytes would silently alias each other's weights.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : f.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* a = by_offset[i - 1];
    const auto* b = by_offset[i];
    if (b->offset < a->offset + a->nbytes)
      throw InputError(file, fmt::format("tensor '{}'", b->name),
                       fmt::format("data range [{}, {}) overlaps tensor '{}' [{}, {})", b->offset,
                                   b->offset + b->nbytes, a->name, a->offset, a->offset + a->nbytes));
  }
  return f;
}

int64_t gguf_int(const GgufFile& f, const GgufKv& kv) {
  uint64_t mag = 0;
  bool neg = false;
  if (kv.type == GgufType::ARRAY || !integer_at(kv.type, kv.raw, &mag, &neg)) type_error(f, kv, "an integer");
  if (!neg && mag > static_cast<uint64_t>(INT64_MAX)) type_error(f, kv, "an integer below 2^63");
  return neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
}

uint64_t gguf_uint(const GgufFile& f, const GgufKv& kv) {
  uint64_t mag = 0;
  bool neg = false;
  if (kv.type == GgufType::ARRAY || !integer_at(kv.type, kv.raw, &mag, &neg)) type_error(f, kv, "an integer");
  if (neg)
    throw InputError(f.file, fmt::format("metadata '{}'", kv.key),
                     "expected a non-negative integer, got a negative one");
  return mag;
}

double gguf_float(const GgufFile& f, const GgufKv& kv) {
  if (kv.type == GgufType::F32) return load<float>(kv.raw);
  if (kv.type == GgufType::F64) return load<double>(kv.raw);
  if (is_integer(kv.type) && kv.type != GgufType::BOOL) return static_cast<double>(gguf_int(f, kv));
  type_error(f, kv, "a number");
}

bool gguf_bool(const GgufFile& f, const GgufKv& kv) {
  if (kv.type != GgufType::BOOL) type_error(f, kv, "a bool");
  return kv.raw[0] != 0;
}

std::string gguf_string(const GgufFile& f, const GgufKv& kv) {
  if (kv.type != GgufType::STRING) type_error(f, kv, "a string");
  return std::string(reinterpret_cast<const char*>(kv.raw + 8), kv.raw_size - 8);
}

std::vector<std::string> gguf_string_array(const GgufFile& f, const GgufKv& kv) {
  if (kv.type != GgufType::ARRAY || kv.elem_type != GgufType::STRING) type_error(f, kv, "an array of strings");
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(kv.count));
  const uint8_t* p = kv.raw + 12;  // element type (4) + count (8); lengths were validated by parse_gguf
  for (uint64_t i = 0; i < kv.count; ++i) {
    const auto len = static_cast<size_t>(load<uint64_t>(p));
    out.emplace_back(reinterpret_cast<const char*>(p + 8), len);
    p += 8 + len;
  }
  return out;
}

std::vector<int64_t> gguf_int_array(const GgufFile& f, const GgufKv& kv) {
  if (kv.type != GgufType::ARRAY || !is_integer(kv.elem_type)) type_error(f, kv, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(kv.count));
  const size_t es = gguf_scalar_size(kv.elem_type);
  const uint8_t* p = kv.raw + 12;
  for (uint64_t i = 0; i < kv.count; ++i, p += es) {
    uint64_t mag = 0;
    bool neg = false;
    integer_at(kv.elem_type, p, &mag, &neg);
    if (!neg && mag > static_cast<uint64_t>(INT64_MAX))
      throw InputError(f.file, fmt::format("metadata '{}'[{}]", kv.key, i), "expected an integer below 2^63");
    out.push_back(neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag));
  }
  return out;
}

nlohmann::json gguf_to_json(const GgufKv& kv, size_t max_array) {
  if (kv.type == GgufType::STRING)
    return utf8_sanitized(std::string_view(reinterpret_cast<const char*>(kv.raw + 8), kv.raw_size - 8));
  if (kv.type != GgufType::ARRAY) return scalar_json(kv.type, kv.raw);
  if (kv.count > max_array)
    return {{"type", std::string("array of ") + gguf_type_name(kv.elem_type)}, {"count", kv.count}, {"elided", true}};
  nlohmann::json arr = nlohmann::json::array();
  const uint8_t* p = kv.raw + 12;
  for (uint64_t i = 0; i < kv.count; ++i) {
    if (kv.elem_type == GgufType::STRING) {
      const auto len = static_cast<size_t>(load<uint64_t>(p));
      arr.push_back(utf8_sanitized(std::string_view(reinterpret_cast<const char*>(p + 8), len)));
      p += 8 + len;
    } else {
      arr.push_back(scalar_json(kv.elem_type, p));
      p += gguf_scalar_size(kv.elem_type);
    }
  }
  return arr;
}

}  // namespace bp::rt
