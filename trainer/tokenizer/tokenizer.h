// trainer/tokenizer/tokenizer.h — byte-level BPE encoding and decoding, token for token as tiktoken
// does it: pre-tokenize (pretokenizer.h), then within each piece merge the adjacent pair with the
// lowest rank until none is in the vocabulary. Ids are ranks; special tokens sit above them.
//
// SPEC (what --tokenizer takes):
//   gpt2 | r50k_base | p50k_base | cl100k_base | o200k_base   the rank files in the assets dir
//                                                            ($WINNOW_ASSETS_DIR/tokenizers)
//   PATH.tiktoken[:PATTERN]   a rank file; PATTERN (r50k|cl100k|o200k) defaults from the file name
//   DIR with encoder.json and vocab.bpe (GPT-2's files), or with tokenizer.json (Hugging Face,
//   byte-level BPE; a folder `winnow tokenizer train` wrote has one), or PATH/tokenizer.json
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "trainer/tokenizer/pretokenizer.h"

namespace winnow::trainer {

using TokenId = uint32_t;

// How special-token text in the input is treated by Encode.
struct SpecialTokens {
  bool allow_all = false;               // every special token's text becomes its id
  std::vector<std::string> allowed;     // these become their ids
  bool disallow_all = false;            // text of any other special token is an error
  std::vector<std::string> disallowed;  // text of these is an error
  // Otherwise special-token text is ordinary text (encoded as its bytes' BPE).
};

class Tokenizer {
 public:
  // Loads a SPEC (see above); errors name the file and the problem.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& spec);
  // From ranks (bytes → id) directly; specials are added with the given ids.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromRanks(
      std::string name, std::vector<std::string> tokens_by_id, PretokenPattern pattern,
      std::map<std::string, TokenId> specials);

  // Ordinary text only (special-token text is encoded as text).
  std::vector<TokenId> EncodeOrdinary(std::string_view text) const;
  // With special tokens per `special`; InvalidArgument when disallowed special text appears.
  absl::StatusOr<std::vector<TokenId>> Encode(std::string_view text,
                                              const SpecialTokens& special) const;
  // tiktoken's encoding of raw bytes: the valid UTF-8 prefix as text, the rest as bytes merged
  // into the last piece.
  std::vector<TokenId> EncodeBytes(std::string_view bytes) const;
  // The bytes of `ids` (total: an unknown id decodes to nothing and sets *unknown when given).
  std::string Decode(const std::vector<TokenId>& ids, size_t* unknown = nullptr) const;
  // The bytes of one token; empty for an unknown id.
  std::string_view TokenBytes(TokenId id) const;

  // Ranks are 0 … num_ranks()−1; vocab_size() covers the specials too.
  size_t num_ranks() const { return tokens_.size(); }
  size_t vocab_size() const;
  const std::map<std::string, TokenId>& specials() const { return specials_; }
  // The end-of-text id: <|endoftext|> if present.
  std::optional<TokenId> eot() const;
  PretokenPattern pattern() const { return pattern_; }
  const std::string& name() const { return name_; }
  // The rank of these bytes, if they are one token.
  std::optional<TokenId> Rank(std::string_view bytes) const;

  // Appends the BPE of one piece to `out`.
  void EncodePiece(std::string_view piece, std::vector<TokenId>* out) const;

 private:
  Tokenizer() = default;
  void EncodeOrdinaryInto(std::string_view text, std::vector<TokenId>* out,
                          size_t* last_piece_tokens) const;

  std::string name_;
  PretokenPattern pattern_ = PretokenPattern::kCl100k;
  std::vector<std::string> tokens_;  // by id
  // Bytes → rank, laid out for encoding (tokenizer.cc); its unique id keys the per-thread piece
  // caches, so a tokenizer never sees another's cached pieces.
  struct Ranks;
  std::shared_ptr<const Ranks> ranks_;
  std::map<std::string, TokenId> specials_;
  absl::flat_hash_map<TokenId, std::string> special_bytes_;
};

// Where named encodings are found: $WINNOW_ASSETS_DIR/tokenizers, else ../shared/data/tokenizers
// next to the source tree.
std::string TokenizerAssetsDir();

}  // namespace winnow::trainer
