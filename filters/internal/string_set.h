// filters/internal/string_set.h — a compact set of byte strings for large blocklists (the UT1 adult
// list has 4.5 million domains): the strings live back to back in one arena and an open-addressing
// table (linear probing, load <= 3/4) holds 8-byte slots: the entry's index and 32 bits of its
// hash, so a probe rarely touches the arena. About a third of the memory of a set of std::string.
// Header-only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace winnow::filters::internal {

class StringSet {
 public:
  // Adds `s` unless present.
  void Insert(std::string_view s) {
    if ((ends_.size() + 1) * 4 > slots_.size() * 3) Grow();
    const uint64_t hash = Hash(s);
    size_t i = hash & (slots_.size() - 1);
    for (; slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
      if (Matches(slots_[i], hash, s)) return;
    }
    bytes_.append(s.data(), s.size());
    ends_.push_back(bytes_.size());
    slots_[i] = Slot(hash, ends_.size() - 1);
  }

  bool Contains(std::string_view s) const {
    if (ends_.empty()) return false;
    const uint64_t hash = Hash(s);
    for (size_t i = hash & (slots_.size() - 1); slots_[i] != 0; i = (i + 1) & (slots_.size() - 1)) {
      if (Matches(slots_[i], hash, s)) return true;
    }
    return false;
  }

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }

 private:
  static uint64_t Hash(std::string_view s) { return std::hash<std::string_view>()(s); }
  // High half: the hash's top 32 bits; low half: entry index + 1 (0 marks an empty slot).
  static uint64_t Slot(uint64_t hash, size_t index) {
    return (hash & 0xffffffff00000000ull) | static_cast<uint64_t>(index + 1);
  }
  std::string_view Get(size_t index) const {
    const size_t begin = index == 0 ? 0 : ends_[index - 1];
    return std::string_view(bytes_.data() + begin, ends_[index] - begin);
  }
  bool Matches(uint64_t slot, uint64_t hash, std::string_view s) const {
    return (slot >> 32) == (hash >> 32) && Get((slot & 0xffffffffu) - 1) == s;
  }
  void Grow() {
    const size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
    slots_.assign(capacity, 0);
    for (size_t index = 0; index < ends_.size(); ++index) {
      const uint64_t hash = Hash(Get(index));
      size_t i = hash & (capacity - 1);
      while (slots_[i] != 0) i = (i + 1) & (capacity - 1);
      slots_[i] = Slot(hash, index);
    }
  }

  std::string bytes_;           // the entries, back to back
  std::vector<uint64_t> ends_;  // entry i is bytes_[ends_[i - 1], ends_[i])
  std::vector<uint64_t> slots_;
};

}  // namespace winnow::filters::internal
