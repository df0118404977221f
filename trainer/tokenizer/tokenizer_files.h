// trainer/tokenizer/tokenizer_files.h — writes a Tokenizer as files other tools load: the folder
// `winnow tokenizer train --out DIR` produces, which Tokenizer::Load(DIR) reads back.
//
//   DIR/tokenizer.tiktoken       base64(token bytes) SPACE rank, one line per rank (tiktoken's
//                                format; Load("DIR/tokenizer.tiktoken") finds the rest beside it)
//   DIR/winnow_tokenizer.json    {"name", "pattern": "cl100k", "specials": {text: id},
//                                 "vocab_size", "num_ranks", "trained_on"?}
//   DIR/tokenizer.json           Hugging Face `tokenizers` (and transformers'
//                                PreTrainedTokenizerFast): Split(HfPretokenRegex, Isolated) then
//                                ByteLevel(use_regex=false), a BPE model in GPT-2's byte↔unicode
//                                alphabet with the merges in rank order, the specials as added
//                                tokens (special=true, also in the vocabulary so their ids stick).
//
// HF's BPE applies merges (pairs) by priority while tiktoken merges the pair whose concatenation
// has the lowest rank; the two agree when each rank's merge is the split BPE itself makes of that
// token, which RecoverMerges computes. "ignore_merges": true makes HF emit a piece that is itself a
// token as that token, as tiktoken does.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::trainer {

// left + right (ranks) make result.
struct TokenMerge {
  TokenId left = 0;
  TokenId right = 0;
  TokenId result = 0;
};

// The merge that builds each rank of two bytes or more, in rank order: the token's bytes
// BPE-encoded with the lower ranks only, which ends in exactly two parts for a vocabulary BPE
// training made (GPT-2's vocab.bpe comes back exactly). A rank that does not end in two parts
// cannot be reached by merges: it gets none and is counted in *unreachable.
std::vector<TokenMerge> RecoverMerges(const Tokenizer& t, size_t* unreachable = nullptr);

// The pre-tokenization regex as tokenizer.json spells it for HF's regex engine (Oniguruma, Ruby
// syntax): PretokenPatternRegex(pattern) with cl100k's `\p{N}{1,3}+` written `\p{N}{1,3}`
// (Oniguruma reads `{n,m}+` as a repetition of the repetition, so "2024" would stay one piece;
// the possessive `?+ ++ *+` it reads as tiktoken does). The same pieces either way.
std::string HfPretokenRegex(PretokenPattern pattern);

// The Hugging Face tokenizer.json of `t` with these merges. InvalidArgument when a special token's
// text is also an ordinary token's spelling.
absl::StatusOr<std::string> HfTokenizerJson(const Tokenizer& t,
                                            const std::vector<TokenMerge>& merges);

struct SaveTokenizerOptions {
  std::string trained_on;  // what the vocabulary was trained on (winnow_tokenizer.json), if set
};

// Writes the three files into `dir` (created if missing; each file written whole, then renamed
// into place). Errors name the file.
absl::Status SaveTokenizer(const Tokenizer& t, const std::string& dir,
                           const SaveTokenizerOptions& options = {});

}  // namespace winnow::trainer
