#include "trainer/tokenizer/byte_unicode.h"

#include <array>
#include <cstdint>
#include <unordered_map>

namespace winnow::trainer {
namespace {

// Printable bytes map to the same code point; the other 68 to 256, 257, … in byte order.
const std::array<uint32_t, 256>& ByteToCodePoint() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

const std::unordered_map<uint32_t, uint8_t>& CodePointToByte() {
  static const std::unordered_map<uint32_t, uint8_t> map = [] {
    std::unordered_map<uint32_t, uint8_t> m;
    for (uint32_t b = 0; b < 256; ++b) m[ByteToCodePoint()[b]] = static_cast<uint8_t>(b);
    return m;
  }();
  return map;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else {  // the alphabet stays below U+0800
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string BytesToUnicode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendUtf8(ByteToCodePoint()[b], &out);
  return out;
}

bool UnicodeToBytes(std::string_view text, std::string* bytes) {
  bytes->clear();
  const auto& map = CodePointToByte();
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    if (b < 0x80) {
      cp = b;
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp = ((b & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      return false;
    }
    auto it = map.find(cp);
    if (it == map.end()) return false;
    bytes->push_back(static_cast<char>(it->second));
  }
  return true;
}

}  // namespace winnow::trainer
