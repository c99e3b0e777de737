#pragma once
// GPT-2's byte-level alphabet: every byte is written as one printable code point, so that BPE vocabularies can be
// stored as text. Printable Latin-1 bytes (0x21..0x7E, 0xA1..0xAC, 0xAE..0xFF) stand for themselves; the other 68
// bytes, in increasing order, map to U+0100, U+0101, ... (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
#include <cstdint>
#include <string>
#include <string_view>

namespace bp::rt::byte_level {

// Code point that stands for byte b.
uint32_t byte_to_codepoint(uint8_t b);
// The byte a code point stands for, or -1 when it is not in the alphabet.
int codepoint_to_byte(uint32_t cp);

// Raw bytes -> their byte-level text (UTF-8).
std::string encode(std::string_view raw);
// Byte-level text -> raw bytes. Code points outside the alphabet are kept as their UTF-8 (as Hugging Face's
// ByteLevel decoder does), so a malformed token still decodes to something visible instead of failing.
std::string decode(std::string_view text);

}  // namespace bp::rt::byte_level
