// pipeline/text/duplicates.h — repeated strings counted the way the reference's Gopher repetition
// and FineWeb quality filters count them (datatrove's find_duplicates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace winnow::pipeline {

struct DuplicateCount {
  size_t elements = 0;  // occurrences of an item already seen earlier in the list
  size_t chars = 0;     // their total length in code points (Python len)
};

// Walks `items` in order; every item equal to an earlier one is a duplicate. Uses a per-thread hash
// table, so steady-state calls do not allocate.
DuplicateCount FindDuplicates(const std::vector<std::string_view>& items);

// A fast 64-bit hash of the bytes of `s` (not for adversarial inputs: callers verify on equal
// hash).
uint64_t Fingerprint64(std::string_view s);

}  // namespace winnow::pipeline
