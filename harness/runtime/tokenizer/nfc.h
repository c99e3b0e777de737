#pragma once
// Unicode NFC normalization, as the reference (Hugging Face `tokenizers`' NFC normalizer, used by Qwen2's
// tokenizer.json) computes it: canonical decomposition, canonical ordering, canonical composition (UAX #15), with
// the reference's data (nfc_tables.cpp, generated and checked by gen_unicode_tables.py).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bp::rt::unicode {

// Appends the NFC form of s to out. Bytes that are not valid UTF-8 are copied through unchanged and never
// combine with anything, so normalization never fails.
void append_nfc(std::string_view s, std::string& out);

namespace nfc_data {
struct DecompEntry {
  uint32_t cp, offset, len;  // full canonical decomposition: kDecompData[offset .. offset + len)
};
struct CccRange {
  uint32_t first, last;
  uint8_t ccc;  // canonical combining class; code points outside every range have class 0
};
struct Composition {
  uint32_t first, second, composite;  // sorted by (first, second)
};
extern const uint32_t kDecompData[];
extern const DecompEntry kDecomp[];
extern const size_t kDecompCount;
extern const CccRange kCcc[];
extern const size_t kCccCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
}  // namespace nfc_data

}  // namespace bp::rt::unicode
