#include "pipeline/text/py_str.h"

#include <cstdint>
#include <cstring>

#include "pipeline/text/unicode.h"

namespace winnow::pipeline {

size_t internal::PySpaceAtSlow(std::string_view s, size_t pos) {
  const auto b = static_cast<unsigned char>(s[pos]);
  // Non-ASCII whitespace starts with 0xC2 (U+0085, U+00A0), 0xE1 (U+1680), 0xE2 (U+2000…U+205F)
  // or 0xE3 (U+3000).
  if (b != 0xC2 && b != 0xE1 && b != 0xE2 && b != 0xE3) return 0;
  size_t next = pos;
  const char32_t c = DecodeUtf8(s, &next);
  return (CharFlags(c) & kCharSpace) ? next - pos : 0;
}

std::string_view PyLStrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = PySpaceAt(s, i);
    if (n == 0) break;
    i += n;
  }
  return s.substr(i);
}

std::string_view PyRStrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const auto b = static_cast<unsigned char>(s[end - 1]);
    if (b < 0x80) {
      if (!(internal::kAsciiFlags[b] & kCharSpace)) break;
      --end;
      continue;
    }
    size_t start;
    const char32_t c = DecodeUtf8Before(s, end, &start);
    if (!(CharFlags(c) & kCharSpace)) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view PyStrip(std::string_view s) { return PyRStrip(PyLStrip(s)); }

void PySplitLines(std::string_view s, std::vector<std::string_view>* lines) {
  lines->clear();
  size_t start = 0;
  size_t i = 0;
  while (i < s.size()) {
    // Skip 8 bytes at a time while none is a control byte or a non-ASCII byte.
    while (i + 8 <= s.size()) {
      uint64_t v;
      std::memcpy(&v, s.data() + i, 8);
      const uint64_t high = v & 0x8080808080808080ULL;  // bytes >= 0x80
      const uint64_t low = (v - 0x2020202020202020ULL) & ~v & 0x8080808080808080ULL;  // < 0x20
      if (high | low) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i]);
    size_t brk = 0;  // bytes of the line break at i
    if (b < 0x80) {
      if (internal::kAsciiFlags[b] & kCharLineBreak) {
        brk = (b == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
      }
    } else if (b == 0xC2 || b == 0xE2) {  // U+0085, U+2028, U+2029
      size_t next = i;
      if (CharFlags(DecodeUtf8(s, &next)) & kCharLineBreak) brk = next - i;
    }
    if (brk == 0) {
      ++i;
      continue;
    }
    lines->push_back(s.substr(start, i - start));
    i += brk;
    start = i;
  }
  if (start < s.size()) lines->push_back(s.substr(start));
}

void PySplitWhitespace(std::string_view s, std::vector<std::string_view>* words) {
  words->clear();
  size_t i = 0;
  while (i < s.size()) {
    size_t n;
    while (i < s.size() && (n = PySpaceAt(s, i)) > 0) i += n;
    const size_t start = i;
    while (i < s.size() && PySpaceAt(s, i) == 0) ++i;
    if (i > start) words->push_back(s.substr(start, i - start));
  }
}

}  // namespace winnow::pipeline
