// pipeline/text/py_str.h — the few Python str methods the reference filters use (strip, split,
// splitlines), on UTF-8 views, with Python's definitions of whitespace and line boundaries.
#pragma once

#include <string_view>
#include <vector>

#include "pipeline/text/unicode.h"

namespace winnow::pipeline {

// str.strip() / lstrip() / rstrip() with no argument: removes Unicode whitespace (str.isspace).
std::string_view PyStrip(std::string_view s);
std::string_view PyLStrip(std::string_view s);
std::string_view PyRStrip(std::string_view s);

// str.splitlines(): breaks at \n, \r, \r\n, \v, \f, \x1c, \x1d, \x1e, U+0085, U+2028 and U+2029;
// the breaks are not kept and a final break adds no empty line. Appends to `*lines` (cleared).
void PySplitLines(std::string_view s, std::vector<std::string_view>* lines);

// str.split() with no argument: runs of whitespace separate, no empty strings. Appends to `*words`
// (cleared).
void PySplitWhitespace(std::string_view s, std::vector<std::string_view>* words);

namespace internal {
size_t PySpaceAtSlow(std::string_view s, size_t pos);
}  // namespace internal

// Length in bytes of the whitespace code point at `s[pos]`, or 0 when it is not whitespace.
inline size_t PySpaceAt(std::string_view s, size_t pos) {
  const auto b = static_cast<unsigned char>(s[pos]);
  if (b < 0x80) return (internal::kAsciiFlags[b] & kCharSpace) ? 1 : 0;
  return internal::PySpaceAtSlow(s, pos);
}

}  // namespace winnow::pipeline
