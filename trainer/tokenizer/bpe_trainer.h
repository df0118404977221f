// trainer/tokenizer/bpe_trainer.h — byte-level BPE training (GPT-2 / GPT-4 style): texts are
// pre-tokenized (pretokenizer.h) into chunks, merges never cross a chunk, and the result loads as
// a Tokenizer (ranks = ids, encoding as tiktoken does).
//
// Memory holds the distinct chunks with their counts, never the corpus: feed documents one at a
// time with AddText (from the store, from files, from anywhere), then Train once.
//
// The algorithm, on the distinct chunks weighted by their counts:
//   ranks 0…255 are the single bytes in byte order; then, until the vocabulary is full, the most
//   frequent adjacent pair of tokens (summed over all chunks) becomes the next rank, and every
//   occurrence of it is merged, left to right within each chunk.
//   Ties: among pairs with the same count the greatest pair wins, pairs compared as the tuple
//   (left token's bytes, right token's bytes) — the left bytes first, as unsigned byte strings (a
//   proper prefix is smaller), then the right bytes. That is Python's
//   `max(stats, key=lambda p: (stats[p], p))` over pairs `p = (left: bytes, right: bytes)`.
// The result depends only on the chunk counts: not on hash-map order, feeding order (unless the
// chunk table is pruned, see max_distinct_chunks) or timing.
//
// Speed: pair counts are updated incrementally (only chunks containing the merged pair are
// touched, found through an index pair → chunks), and the best pair comes from a max-heap with lazy
// invalidation. 32k merges over 1.5 M distinct chunks take ~10 s on one core (bench/RESULTS.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "trainer/tokenizer/pretokenizer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::trainer {

struct BpeProgress {
  size_t merges_done = 0;   // merges made so far
  size_t merges_total = 0;  // merges asked for (vocab_size − 256 − specials)
  uint64_t last_count = 0;  // the count of the pair merged last
  double seconds = 0;       // since Train started
};

struct BpeTrainerOptions {
  size_t vocab_size = 32768;  // every id: the 256 bytes, the merges and the specials
  PretokenPattern pattern = PretokenPattern::kCl100k;  // GPT-4's pre-tokenization
  // Special tokens, given the last ids in this order: vocab_size − specials.size() … vocab_size
  // − 1. Their text is also a boundary in AddText (never part of a learned token).
  std::vector<std::string> specials = {"<|endoftext|>"};
  uint64_t min_frequency = 2;  // stop early when the best pair occurs fewer times than this
  // Bound on the chunk table (~60 bytes a chunk). Past it, the rarest chunks are dropped (count 1,
  // then ≤ 2, ≤ 4 … until at most half remain) and counting goes on: the counts become approximate
  // (a dropped chunk that comes back starts from 0) and depend on feeding order. 0: never prune.
  size_t max_distinct_chunks = 16'000'000;
  std::function<void(const BpeProgress&)> progress;  // called every progress_every merges, if set
  size_t progress_every = 1000;
};

// What AddText saw.
struct BpeCorpusStats {
  uint64_t texts = 0;            // AddText calls
  uint64_t bytes = 0;            // bytes of text (specials excluded)
  uint64_t chunks = 0;           // pre-tokenized chunks counted
  uint64_t distinct_chunks = 0;  // in the table now
  uint64_t pruned_chunks = 0;    // entries dropped by pruning, all prunings together
  uint64_t prunings = 0;         // times the table was pruned
};

// A trained vocabulary. tokens_by_id[i] is rank i's bytes; merges[k] made rank 256 + k.
struct BpeModel {
  struct Merge {
    TokenId left = 0;  // the two tokens merged
    TokenId right = 0;
    TokenId result = 0;  // the new rank
    uint64_t count = 0;  // the pair's count when it was merged
  };
  PretokenPattern pattern = PretokenPattern::kCl100k;
  std::vector<std::string> tokens_by_id;
  std::vector<Merge> merges;
  std::map<std::string, TokenId> specials;
  // Pairs whose bytes were already a token (merged into that token, no new rank; can only come
  // from pathological corpora, counted so they are visible).
  size_t duplicate_merges = 0;
  bool stopped_early = false;  // the corpus ran out of pairs (or min_frequency): fewer ranks

  absl::StatusOr<std::unique_ptr<Tokenizer>> ToTokenizer(std::string name) const;
};

// Not thread-safe: one thread feeds a trainer.
class BpeTrainer {
 public:
  explicit BpeTrainer(BpeTrainerOptions options);
  ~BpeTrainer();
  BpeTrainer(const BpeTrainer&) = delete;
  BpeTrainer& operator=(const BpeTrainer&) = delete;

  // Counts the chunks of one document (split at special-token text first).
  void AddText(std::string_view text);
  // Adds `count` occurrences of one chunk as is (for counts merged from elsewhere).
  void AddChunk(std::string_view chunk, uint64_t count);
  const BpeCorpusStats& stats() const { return stats_; }

  // Learns the merges from the counted chunks. InvalidArgument for bad options (vocab_size below
  // 256 + specials, empty or repeated specials). Consumes the chunk table: call once.
  absl::StatusOr<BpeModel> Train();

 private:
  void Prune();

  BpeTrainerOptions options_;
  BpeCorpusStats stats_;
  absl::flat_hash_map<std::string, uint64_t> chunks_;
  bool trained_ = false;
};

// Pulls texts from `next` (false: no more) through a BpeTrainer and trains.
absl::StatusOr<BpeModel> TrainBpe(const BpeTrainerOptions& options,
                                  const std::function<bool(std::string* text)>& next);

}  // namespace winnow::trainer
