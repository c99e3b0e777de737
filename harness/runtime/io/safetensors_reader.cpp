#include "harness/runtime/io/safetensors_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "harness/common/error.h"

namespace bp::rt {

namespace {

// The reference implementation caps the header at 100 MB; a larger one is corruption, not a model.
constexpr uint64_t kMaxHeader = 100u << 20;

std::string ptr(const std::string& name) { return json_pointer_append("", name); }

uint64_t json_uint(const nlohmann::json& v, const std::string& file, const std::string& where) {
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
    throw InputError(file, where, fmt::format("expected a non-negative integer, got {}", v.dump()));
  return v.get<uint64_t>();
}

SafetensorsTensor read_entry(const std::string& name, const nlohmann::json& e, const std::string& file,
                             uint64_t buffer_size) {
  const std::string where = ptr(name);
  if (!e.is_object())
    throw InputError(
        file, where,
        fmt::format("expected an object with dtype, shape, data_offsets, got {}", std::string(e.type_name())));
  for (const auto& [k, v] : e.items())
    if (k != "dtype" && k != "shape" && k != "data_offsets")
      throw InputError(file, json_pointer_append(where, k),
                       "expected only dtype, shape and data_offsets, got this key");
  SafetensorsTensor t;
  t.name = name;

  const auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string())
    throw InputError(file, where + "/dtype", "expected a dtype string (F32, F16, BF16)");
  const std::string d = dt->get<std::string>();
  size_t esize = 0;
  if (d == "F32")
    t.dtype = DType::F32, esize = 4;
  else if (d == "F16")
    t.dtype = DType::F16, esize = 2;
  else if (d == "BF16")
    t.dtype = DType::BF16, esize = 2;
  else
    throw InputError(file, where + "/dtype", fmt::format("expected F32, F16 or BF16, got '{}' (unsupported)", d));

  const auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array())
    throw InputError(file, where + "/shape", "expected an array of non-negative integers");
  uint64_t numel = 1;
  for (size_t i = 0; i < sh->size(); ++i) {
    const uint64_t dim = json_uint((*sh)[i], file, json_pointer_append(where + "/shape", i));
    if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, dim, &numel))
      throw InputError(file, where + "/shape", "expected a shape whose element count fits in 64 bits");
    t.shape.push_back(static_cast<int64_t>(dim));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(esize), &nbytes))
    throw InputError(file, where + "/shape", "expected a shape whose byte size fits in 64 bits");

  const auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2)
    throw InputError(file, where + "/data_offsets", "expected [begin, end]");
  t.begin = json_uint((*off)[0], file, where + "/data_offsets/0");
  t.end = json_uint((*off)[1], file, where + "/data_offsets/1");
  if (t.end < t.begin)
    throw InputError(file, where + "/data_offsets", fmt::format("expected begin <= end, got [{}, {}]", t.begin, t.end));
  if (t.end > buffer_size)
    throw InputError(
        file, where + "/data_offsets",
        fmt::format("data range [{}, {}) beyond end of the data buffer ({} bytes)", t.begin, t.end, buffer_size));
  if (t.end - t.begin != nbytes)
    throw InputError(file, where + "/data_offsets",
                     fmt::format("expected {} bytes ({} elements of {}), got {}", nbytes, numel, d, t.end - t.begin));
  return t;
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& file) {
  SafetensorsFile f;
  f.file = file;
  if (size < 8)
    throw InputError(file, "header", fmt::format("expected an 8-byte header length, got a {}-byte file", size));
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  if (n > size - 8 || n > kMaxHeader)
    throw InputError(file, "header",
                     fmt::format("expected a header length up to {} bytes (file size {}), got {}",
                                 std::min<uint64_t>(size - 8, kMaxHeader), size, n));
  if (n < 2 || data[8] != '{')
    throw InputError(file, "header", "expected a JSON object starting with '{' after the length");
  const auto* begin = reinterpret_cast<const char*>(data + 8);
  nlohmann::json h = nlohmann::json::parse(begin, begin + n, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object())
    throw InputError(file, "header", "expected a valid JSON object (UTF-8, optionally padded with spaces)");
  f.data_offset = 8 + n;
  const uint64_t buffer = size - f.data_offset;

  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      if (!e.is_object()) throw InputError(file, "/__metadata__", "expected an object of strings");
      for (const auto& [k, v] : e.items())
        if (!v.is_string())
          throw InputError(file, json_pointer_append("/__metadata__", k),
                           fmt::format("expected a string, got {}", std::string(v.type_name())));
      f.metadata = e;
      continue;
    }
    SafetensorsTensor t = read_entry(name, e, file, buffer);
    t.data = data + f.data_offset + t.begin;
    f.tensors.push_back(std::move(t));
  }

  // Overlapping ranges would alias two weights; empty tensors occupy no bytes and cannot overlap.
  std::vector<const SafetensorsTensor*> by_begin;
  for (const auto& t : f.tensors)
    if (t.end > t.begin) by_begin.push_back(&t);
  std::sort(by_begin.begin(), by_begin.end(),
            [](const SafetensorsTensor* a, const SafetensorsTensor* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i)
    if (by_begin[i]->begin < by_begin[i - 1]->end)
      throw InputError(file, ptr(by_begin[i]->name) + "/data_offsets",
                       fmt::format("data range [{}, {}) overlaps '{}' [{}, {})", by_begin[i]->begin, by_begin[i]->end,
                                   by_begin[i - 1]->name, by_begin[i - 1]->begin, by_begin[i - 1]->end));
  return f;
}

}  // namespace bp::rt
