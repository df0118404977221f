#include "pipeline/dedup/text_hash.h"

#include <xxhash.h>

#include <array>

#include "pipeline/text/py_str.h"

namespace winnow::pipeline {
namespace {

// Per byte: what it becomes (ASCII letters lower-cased, ASCII whitespace → ' ', every other byte
// itself), and whether it may start a non-ASCII whitespace character (U+0085, U+00A0: 0xC2; U+1680:
// 0xE1; U+2000…U+205F: 0xE2; U+3000: 0xE3), which is checked by decoding.
struct ByteTables {
  std::array<char, 256> map{};
  std::array<bool, 256> maybe_space{};
};
constexpr ByteTables MakeByteTables() {
  ByteTables t;
  for (int c = 0; c < 256; ++c) {
    const bool space = c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    t.map[c] = static_cast<char>(space ? ' ' : (c >= 'A' && c <= 'Z') ? c + 32 : c);
    t.maybe_space[c] = c == 0xC2 || c == 0xE1 || c == 0xE2 || c == 0xE3;
  }
  return t;
}
constexpr ByteTables kBytes = MakeByteTables();

void NormalizeInto(std::string_view text, std::string* out) {
  if (out->size() < text.size()) out->resize(text.size());
  char* const begin = out->data();
  char* o = begin;
  // Spaces are written branch-free: a ' ' right after another (or at the start) is overwritten.
  bool last_space = true;
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (kBytes.maybe_space[b]) {
      const size_t space = PySpaceAt(text, i);
      if (space > 0) {
        *o = ' ';
        o += !last_space;
        last_space = true;
        i += space;
        continue;
      }
    }
    const char c = kBytes.map[b];
    const bool space = c == ' ';
    *o = c;
    o += !(space && last_space);
    last_space = space;
    ++i;
  }
  if (o != begin && o[-1] == ' ') --o;
  out->resize(static_cast<size_t>(o - begin));
}

}  // namespace

std::string ExactTextNormalize(std::string_view text) {
  std::string out;
  NormalizeInto(text, &out);
  return out;
}

uint64_t ExactTextHash(std::string_view text) {
  thread_local std::string buffer;
  NormalizeInto(text, &buffer);
  const uint64_t hash = XXH64(buffer.data(), buffer.size(), 0);
  if (buffer.capacity() > (size_t{64} << 20)) std::string().swap(buffer);  // one huge text
  return hash;
}

}  // namespace winnow::pipeline
