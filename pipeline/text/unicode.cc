#include "pipeline/text/unicode.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <string_view>

namespace winnow::pipeline {
namespace internal {
namespace {

struct CharRun {
  char32_t first;  // first code point of the run
  uint32_t flags;  // CharFlag bits of every code point up to the next run
};

// Defines kCharFlagNames and kCharRuns.
#define WINNOW_SPACY_EN_CHARS
#include "pipeline/text/spacy_en_data.inc"
#undef WINNOW_SPACY_EN_CHARS

constexpr size_t kNumRuns = std::size(kCharRuns);

// Flags for the code points [0, N), computed at compile time from the runs.
template <size_t N>
constexpr std::array<uint32_t, N> DenseFlags() {
  std::array<uint32_t, N> t{};
  size_t run = 0;
  for (char32_t c = 0; c < N; ++c) {
    while (run + 1 < kNumRuns && kCharRuns[run + 1].first <= c) ++run;
    t[c] = kCharRuns[run].flags;
  }
  return t;
}

constexpr std::array<uint32_t, 0x10000> kBmpFlags = DenseFlags<0x10000>();

}  // namespace

const std::array<uint32_t, 128> kAsciiFlags = DenseFlags<128>();

uint32_t NonAsciiFlags(char32_t c) {
  if (c < 0x10000) return kBmpFlags[c];
  if (c >= kInvalidByte) return 0;
  const CharRun* end = kCharRuns + kNumRuns;
  const CharRun* it =
      std::upper_bound(kCharRuns, end, c, [](char32_t v, const CharRun& r) { return v < r.first; });
  return (it - 1)->flags;
}

std::string_view CharFlagName(int bit) {
  return bit >= 0 && bit < static_cast<int>(std::size(kCharFlagNames)) ? kCharFlagNames[bit]
                                                                       : std::string_view();
}

char32_t DecodeUtf8Slow(std::string_view s, size_t* pos) {
  const size_t i = *pos;
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len;
  char32_t c;
  char32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, c = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, c = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, c = b0 & 0x07, min = 0x10000;
  } else {
    *pos = i + 1;
    return kInvalidByte;
  }
  if (i + len > s.size()) {
    *pos = i + 1;
    return kInvalidByte;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *pos = i + 1;
      return kInvalidByte;
    }
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    *pos = i + 1;
    return kInvalidByte;
  }
  *pos = i + len;
  return c;
}

char32_t DecodeUtf8BeforeSlow(std::string_view s, size_t end, size_t* start) {
  // Step back over at most three continuation bytes, then check the sequence spans exactly to end.
  size_t i = end - 1;
  const size_t floor = end >= 4 ? end - 4 : 0;
  while (i > floor && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t next = i;
  const char32_t c = DecodeUtf8(s, &next);
  if (c != kInvalidByte && next == end) {
    *start = i;
    return c;
  }
  *start = end - 1;
  return kInvalidByte;
}

}  // namespace internal

bool AnyCharHas(std::string_view s, uint32_t flags) {
  for (size_t i = 0; i < s.size();) {
    if (CharFlags(DecodeUtf8(s, &i)) & flags) return true;
  }
  return false;
}

bool AllCharsHave(std::string_view s, uint32_t flags) {
  for (size_t i = 0; i < s.size();) {
    if (!(CharFlags(DecodeUtf8(s, &i)) & flags)) return false;
  }
  return true;
}

size_t CodePointCount(std::string_view s) {
  // Bytes minus continuation bytes (10xxxxxx), 8 at a time.
  size_t continuation = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    const uint64_t c = v & ~(v << 1) & 0x8080808080808080ULL;  // bit 7 set, bit 6 clear
    continuation += static_cast<size_t>(((c >> 7) * 0x0101010101010101ULL) >> 56);
  }
  for (; i < s.size(); ++i) continuation += (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  return s.size() - continuation;
}

bool ReplaceInvalidUtf8(std::string_view s, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    if (DecodeUtf8(s, &i) == kInvalidByte) {
      i = start;
      break;
    }
  }
  if (i == s.size()) return false;
  out->assign(s.substr(0, i));
  while (i < s.size()) {
    const size_t start = i;
    if (DecodeUtf8(s, &i) == kInvalidByte) {
      out->append("\xEF\xBF\xBD");
    } else {
      out->append(s.substr(start, i - start));
    }
  }
  return true;
}

}  // namespace winnow::pipeline
