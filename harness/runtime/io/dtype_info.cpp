#include "harness/runtime/io/dtype_info.h"

#include <array>
#include <cctype>
#include <utility>

namespace bp::rt {

namespace {
struct Entry {
  DType type;
  const char* name;
  DTypeInfo info;
};
// Block geometry from ggml's block structs: e.g. block_q4_1 = {f16 d, f16 m, u8 qs[16]} for 32 weights.
constexpr std::array<Entry, 10> kTypes{{
    {DType::F32, "F32", {1, 4}},
    {DType::F16, "F16", {1, 2}},
    {DType::BF16, "BF16", {1, 2}},
    {DType::Q4_0, "Q4_0", {32, 2 + 16}},
    {DType::Q4_1, "Q4_1", {32, 2 + 2 + 16}},
    {DType::Q5_0, "Q5_0", {32, 2 + 4 + 16}},
    {DType::Q5_1, "Q5_1", {32, 2 + 2 + 4 + 16}},
    {DType::Q8_0, "Q8_0", {32, 2 + 32}},
    {DType::Q4_K, "Q4_K", {256, 2 + 2 + 12 + 128}},
    {DType::Q6_K, "Q6_K", {256, 128 + 64 + 16 + 2}},
}};

const Entry* entry(DType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return &e;
  return nullptr;
}
}  // namespace

const char* dtype_name(DType t) {
  const Entry* e = entry(t);
  return e ? e->name : "unknown";
}

DTypeInfo dtype_info(DType t) {
  const Entry* e = entry(t);
  return e ? e->info : DTypeInfo{1, 0};
}

std::optional<DType> dtype_from_ggml(uint32_t ggml_type) {
  for (const auto& e : kTypes)
    if (static_cast<uint32_t>(e.type) == ggml_type) return e.type;
  return std::nullopt;
}

std::string ggml_type_name(uint32_t id) {
  // ggml's type ids, including those we cannot dequantize, so an error names what the file actually holds.
  static const char* const kNames[] = {
      "F32",     "F16",   "Q4_0",   "Q4_1",  "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0", "Q5_1",    "Q8_0",
      "Q8_1",    "Q2_K",  "Q3_K",   "Q4_K",  "Q5_K",           "Q6_K",           "Q8_K", "IQ2_XXS", "IQ2_XS",
      "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S",          "IQ4_XS",         "I8",   "I16",     "I32",
      "I64",     "F64",   "IQ1_M",  "BF16"};
  if (id < sizeof(kNames) / sizeof(kNames[0])) return kNames[id];
  if (id == 34) return "TQ1_0";
  if (id == 35) return "TQ2_0";
  if (id == 39) return "MXFP4";
  return "type " + std::to_string(id);
}

std::optional<DType> dtype_from_name(const std::string& name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& e : kTypes)
    if (up == e.name) return e.type;
  return std::nullopt;
}

bool dtype_nbytes(DType t, uint64_t row, uint64_t numel, uint64_t* nbytes) {
  const Entry* e = entry(t);
  if (!e) return false;
  const auto block = static_cast<uint64_t>(e->info.block);
  if (row == 0 || row % block != 0 || numel % block != 0) return false;
  return !__builtin_mul_overflow(numel / block, static_cast<uint64_t>(e->info.block_bytes), nbytes);
}

}  // namespace bp::rt
