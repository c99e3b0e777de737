#include "harness/runtime/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <string>

namespace bp::rt::unicode {

namespace {
// Classes of the first 256 code points, looked up directly: almost all text hits this table.
std::array<uint8_t, 256> make_latin1() {
  std::array<uint8_t, 256> t{};
  for (size_t i = 0; i < kCodepointRangeCount && kCodepointRanges[i].first < 256; ++i) {
    const auto& r = kCodepointRanges[i];
    for (uint32_t c = r.first; c <= r.last && c < 256; ++c) t[c] = r.flags;
  }
  return t;
}
const std::array<uint8_t, 256> kLatin1 = make_latin1();
}  // namespace

uint8_t flags(uint32_t cp) {
  if (cp < 256) return kLatin1[cp];
  if (cp > 0x10FFFF) return 0;
  const CodepointRange* end = kCodepointRanges + kCodepointRangeCount;
  // First range whose last >= cp.
  const CodepointRange* it =
      std::lower_bound(kCodepointRanges, end, cp, [](const CodepointRange& r, uint32_t c) { return r.last < c; });
  return (it != end && it->first <= cp) ? it->flags : 0;
}

size_t decode_utf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  uint32_t c, min;
  if ((b0 & 0xE0) == 0xC0) { len = 2; c = b0 & 0x1F; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; c = b0 & 0x0F; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; c = b0 & 0x07; min = 0x10000; }
  else { *cp = kInvalid; return 1; }
  if (i + len > s.size()) { *cp = kInvalid; return 1; }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) { *cp = kInvalid; return 1; }
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) { *cp = kInvalid; return 1; }
  *cp = c;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void DecodedText::assign(std::string_view s) {
  cp.clear();
  cls.clear();
  offset.clear();
  cp.reserve(s.size());
  cls.reserve(s.size());
  offset.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    uint32_t c;
    const size_t n = decode_utf8(s, i, &c);
    cp.push_back(c);
    cls.push_back(c == kInvalid ? 0 : flags(c));
    offset.push_back(static_cast<uint32_t>(i));
    i += n;
  }
  offset.push_back(static_cast<uint32_t>(s.size()));
}

}  // namespace bp::rt::unicode
