// pipeline/warc/internal/text.h — ASCII helpers on std::string_view shared by the warc readers.
// (Debian's Abseil has its own string_view type, so absl's string helpers do not take ours.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace winnow::pipeline::internal {

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// Trims spaces, tabs, CR and LF at both ends.
inline std::string_view Trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// A non-negative decimal number of at most 18 digits (surrounding blanks allowed).
inline bool ParseDecimal(std::string_view s, uint64_t* value) {
  s = Trim(s);
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

}  // namespace winnow::pipeline::internal
