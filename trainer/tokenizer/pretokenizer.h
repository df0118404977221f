// trainer/tokenizer/pretokenizer.h — the pre-tokenization of tiktoken's encodings, as hand-written
// scanners (no regex engine): text → pieces that BPE then encodes one by one.
//
// Each scanner implements one pattern of ../shared/specs/trainer.md exactly as a backtracking regex
// engine runs it (alternatives tried in order at each position; greedy, possessive and look-ahead
// as written). Unicode classes come from ICU: \p{L} letters, \p{N} numbers, \p{M} marks, and \s the
// White_Space property (as tiktoken's regex engine has it). An invalid UTF-8 byte counts as one
// character of no class (neither letter, number nor space), so every byte lands in some piece.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace winnow::trainer {

enum class PretokenPattern {
  kR50k,    // gpt2, r50k_base, p50k_base
  kCl100k,  // cl100k_base
  kO200k,   // o200k_base
};

// "r50k", "cl100k", "o200k" (also the encoding names "gpt2", "r50k_base", "p50k_base",
// "cl100k_base", "o200k_base"); false for anything else.
bool ParsePretokenPattern(std::string_view name, PretokenPattern* pattern);
std::string_view PretokenPatternName(PretokenPattern pattern);  // "r50k", "cl100k", "o200k"
// The regex the scanner implements (for tokenizer.json export and error messages).
std::string_view PretokenPatternRegex(PretokenPattern pattern);

// Appends the pieces of `text` (views into it, in order, covering it exactly) to `pieces`.
void Pretokenize(std::string_view text, PretokenPattern pattern,
                 std::vector<std::string_view>* pieces);

}  // namespace winnow::trainer
