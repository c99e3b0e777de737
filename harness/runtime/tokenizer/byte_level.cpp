#include "harness/runtime/tokenizer/byte_level.h"

#include <array>

#include "harness/runtime/tokenizer/unicode.h"

namespace bp::rt::byte_level {

namespace {
bool stands_for_itself(uint32_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> from_cp{};  // every code point of the alphabet is below U+0200
  Tables() {
    from_cp.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      to_cp[b] = stands_for_itself(b) ? b : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return tables().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < 512 ? tables().from_cp[cp] : -1; }

std::string encode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) unicode::append_utf8(out, byte_to_codepoint(static_cast<uint8_t>(c)));
  return out;
}

std::string decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const size_t n = unicode::decode_utf8(text, i, &cp);
    const int b = cp == unicode::kInvalid ? -1 : codepoint_to_byte(cp);
    if (b >= 0) out += static_cast<char>(b);
    else out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace bp::rt::byte_level
