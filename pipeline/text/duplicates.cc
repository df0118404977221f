#include "pipeline/text/duplicates.h"

#include <cstring>

#include "pipeline/text/unicode.h"

namespace winnow::pipeline {

uint64_t Fingerprint64(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xC2B2AE3D27D4EB4FULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    h = (h ^ v) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  if (i < s.size()) {
    uint64_t v = 0;
    std::memcpy(&v, s.data() + i, s.size() - i);
    h = (h ^ v) * 0xC4CEB9FE1A85EC53ULL;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  return h ^ (h >> 33);
}

DuplicateCount FindDuplicates(const std::vector<std::string_view>& items) {
  struct Slot {
    uint64_t hash;
    uint32_t index;  // into items, + 1; 0 = empty
  };
  thread_local std::vector<Slot> table;
  size_t cap = 16;
  while (cap < 2 * items.size()) cap <<= 1;
  if (table.size() < cap || table.size() > 4 * cap + (1 << 16)) table.assign(cap, Slot{0, 0});
  std::memset(static_cast<void*>(table.data()), 0, cap * sizeof(Slot));
  const size_t mask = cap - 1;
  DuplicateCount count;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string_view item = items[i];
    const uint64_t h = Fingerprint64(item);
    size_t s = h & mask;
    bool seen = false;
    while (table[s].index != 0) {
      if (table[s].hash == h && items[table[s].index - 1] == item) {
        seen = true;
        break;
      }
      s = (s + 1) & mask;
    }
    if (seen) {
      ++count.elements;
      count.chars += CodePointCount(item);
    } else {
      table[s] = Slot{h, static_cast<uint32_t>(i + 1)};
    }
  }
  return count;
}

}  // namespace winnow::pipeline
