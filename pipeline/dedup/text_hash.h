// pipeline/dedup/text_hash.h — the exact-deduplication key of a document: two texts that differ
// only in ASCII letter case or in how much (Unicode) whitespace separates their words get the same
// key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace winnow::pipeline {

// The light normalisation ExactTextHash hashes: every run of Unicode whitespace (Python's
// str.isspace) becomes one ' ', leading and trailing whitespace are removed, and ASCII letters are
// lower-cased. Everything else (non-ASCII letters, punctuation, invalid UTF-8 bytes) is kept as is.
std::string ExactTextNormalize(std::string_view text);

// XXH64 (seed 0) of ExactTextNormalize(text), computed without allocating in steady state.
uint64_t ExactTextHash(std::string_view text);

}  // namespace winnow::pipeline
