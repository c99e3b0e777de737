#include "harness/runtime/tokenizer/nfc.h"

#include <algorithm>
#include <vector>

#include "harness/runtime/tokenizer/unicode.h"

namespace bp::rt::unicode {

namespace {

using namespace nfc_data;

// Hangul syllables decompose and compose by arithmetic (Unicode ch. 3.12), not through the tables.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = 11172;

// An invalid input byte b travels as kRawByte + b: no table knows it, so it is a starter that composes with nothing.
constexpr uint32_t kRawByte = 0x110000;

uint8_t ccc(uint32_t cp) {
  const CccRange* end = kCcc + kCccCount;
  const CccRange* it = std::lower_bound(kCcc, end, cp, [](const CccRange& r, uint32_t c) { return r.last < c; });
  return (it != end && it->first <= cp) ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t i = cp - kSBase;
    out.push_back(kLBase + i / kNCount);
    out.push_back(kVBase + (i % kNCount) / kTCount);
    if (i % kTCount) out.push_back(kTBase + i % kTCount);
    return;
  }
  const DecompEntry* end = kDecomp + kDecompCount;
  const DecompEntry* it = std::lower_bound(kDecomp, end, cp, [](const DecompEntry& e, uint32_t c) { return e.cp < c; });
  if (it != end && it->cp == cp) out.insert(out.end(), kDecompData + it->offset, kDecompData + it->offset + it->len);
  else out.push_back(cp);
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kCompositions + kCompositionCount;
  const Composition* it = std::lower_bound(kCompositions, end, std::make_pair(a, b), [](const Composition& c, auto key) {
    return c.first != key.first ? c.first < key.first : c.second < key.second;
  });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

}  // namespace

void append_nfc(std::string_view s, std::string& out) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    out.append(s);  // ASCII is always NFC
    return;
  }
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t n = decode_utf8(s, i, &cp);
    if (cp == kInvalid) cps.push_back(kRawByte + static_cast<uint8_t>(s[i]));
    else decompose(cp, cps);
    i += n;
  }
  std::vector<uint8_t> cls(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) cls[i] = cps[i] >= kRawByte ? 0 : ccc(cps[i]);
  // Canonical ordering: a stable sort of each run of non-starters by class (runs are short: insertion sort).
  for (size_t i = 1; i < cps.size(); ++i) {
    for (size_t j = i; j > 0 && cls[j] != 0 && cls[j - 1] > cls[j]; --j) {
      std::swap(cps[j], cps[j - 1]);
      std::swap(cls[j], cls[j - 1]);
    }
  }
  // Canonical composition: each character combines with the last starter unless a character of the same or a
  // higher class stands between them (it is "blocked").
  size_t kept = 0;
  long starter = -1;
  int last_class = 256;
  for (size_t i = 0; i < cps.size(); ++i) {
    const uint32_t c = cps[i];
    const int k = cls[i];
    if (starter >= 0 && c < kRawByte && cps[starter] < kRawByte && (last_class < k || last_class == 0)) {
      if (const uint32_t comp = compose(cps[starter], c)) {
        cps[starter] = comp;
        continue;
      }
    }
    if (k == 0) starter = static_cast<long>(kept);
    last_class = k;
    cps[kept] = c;
    cls[kept] = cls[i];
    ++kept;
  }
  for (size_t i = 0; i < kept; ++i) {
    if (cps[i] >= kRawByte) out += static_cast<char>(cps[i] - kRawByte);
    else append_utf8(out, cps[i]);
  }
}

}  // namespace bp::rt::unicode
