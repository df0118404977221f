#include "trainer/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace winnow::trainer {
namespace {

// Debian's abseil has its own string_view: hash-map lookups need one.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

using PairKey = uint64_t;  // left << 32 | right
PairKey Key(TokenId left, TokenId right) { return (static_cast<PairKey>(left) << 32) | right; }
TokenId Left(PairKey key) { return static_cast<TokenId>(key >> 32); }
TokenId Right(PairKey key) { return static_cast<TokenId>(key & 0xFFFFFFFFu); }

// A pair's total count over all chunks and the chunks it (may) occur in: an index appended when
// the pair appears in a chunk; stale (the chunk lost the pair since) or repeated entries are
// skipped when the pair is merged.
struct PairStats {
  int64_t count = 0;
  std::vector<uint32_t> chunks;
};

struct HeapEntry {
  int64_t count;
  PairKey pair;
};

// The distinct chunks as token sequences, stored back to back; a merge shrinks a chunk in place.
struct Chunks {
  std::vector<TokenId> symbols;
  std::vector<uint64_t> start;
  std::vector<uint32_t> length;
  std::vector<int64_t> count;
  std::vector<uint32_t> stamp;  // the last merge step that rewrote the chunk (+1)
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeModel::ToTokenizer(std::string name) const {
  return Tokenizer::FromRanks(std::move(name), tokens_by_id, pattern, specials);
}

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : options_(std::move(options)) {}
BpeTrainer::~BpeTrainer() = default;

void BpeTrainer::AddChunk(std::string_view chunk, uint64_t count) {
  if (chunk.empty() || count == 0) return;
  stats_.chunks += count;
  auto it = chunks_.find(AV(chunk));
  if (it != chunks_.end()) {
    it->second += count;
    return;
  }
  chunks_.emplace(std::string(chunk), count);
  stats_.distinct_chunks = chunks_.size();
  if (options_.max_distinct_chunks > 0 && chunks_.size() > options_.max_distinct_chunks) Prune();
}

void BpeTrainer::AddText(std::string_view text) {
  ++stats_.texts;
  thread_local std::vector<std::string_view> pieces;
  while (!text.empty()) {
    // Up to the leftmost special-token text (the longest one there).
    size_t at = std::string_view::npos;
    size_t length = 0;
    for (const std::string& special : options_.specials) {
      if (special.empty()) continue;
      const size_t found = text.find(special);
      if (found < at || (found == at && special.size() > length)) {
        at = found;
        length = special.size();
      }
    }
    const std::string_view part = text.substr(0, at);
    stats_.bytes += part.size();
    pieces.clear();
    Pretokenize(part, options_.pattern, &pieces);
    for (std::string_view piece : pieces) AddChunk(piece, 1);
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + length);
  }
}

void BpeTrainer::Prune() {
  const size_t target = options_.max_distinct_chunks / 2;
  uint64_t threshold = 1;
  while (chunks_.size() > target) {
    const size_t before = chunks_.size();
    absl::erase_if(chunks_, [&](const auto& entry) { return entry.second <= threshold; });
    stats_.pruned_chunks += before - chunks_.size();
    threshold *= 2;
  }
  ++stats_.prunings;
  stats_.distinct_chunks = chunks_.size();
}

absl::StatusOr<BpeModel> BpeTrainer::Train() {
  if (trained_) return absl::FailedPreconditionError("BpeTrainer::Train: already trained");
  trained_ = true;
  const size_t num_specials = options_.specials.size();
  std::set<std::string> seen;
  for (const std::string& special : options_.specials) {
    if (special.empty()) return absl::InvalidArgumentError("a special token is empty");
    if (!seen.insert(special).second) {
      return absl::InvalidArgumentError(absl::StrCat("special token ", special, " is repeated"));
    }
  }
  if (options_.vocab_size < 256 + num_specials || options_.vocab_size > (size_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_size ", options_.vocab_size, " must hold the 256 byte tokens and the ",
                     num_specials, " special tokens (and stay below 2^31)"));
  }
  const size_t target_ranks = options_.vocab_size - num_specials;
  const auto started = std::chrono::steady_clock::now();

  BpeModel model;
  model.pattern = options_.pattern;
  std::vector<std::string>& tokens = model.tokens_by_id;
  tokens.reserve(std::min<size_t>(target_ranks, size_t{1} << 20));
  absl::flat_hash_map<std::string, TokenId> rank_of;
  for (int b = 0; b < 256; ++b) {
    tokens.emplace_back(1, static_cast<char>(b));
    rank_of.emplace(tokens.back(), b);
  }

  // The chunks as byte sequences (one-byte chunks hold no pair: left out).
  Chunks chunks;
  for (const auto& [bytes, count] : chunks_) {
    if (bytes.size() < 2) continue;
    chunks.start.push_back(chunks.symbols.size());
    chunks.length.push_back(static_cast<uint32_t>(bytes.size()));
    chunks.count.push_back(static_cast<int64_t>(count));
    for (unsigned char c : bytes) chunks.symbols.push_back(c);
  }
  chunks_ = {};
  chunks.stamp.assign(chunks.count.size(), 0);

  absl::flat_hash_map<PairKey, PairStats> pairs;
  for (uint32_t w = 0; w < chunks.count.size(); ++w) {
    const TokenId* s = &chunks.symbols[chunks.start[w]];
    for (uint32_t i = 0; i + 1 < chunks.length[w]; ++i) {
      PairStats& p = pairs[Key(s[i], s[i + 1])];
      p.count += chunks.count[w];
      if (p.chunks.empty() || p.chunks.back() != w) p.chunks.push_back(w);
    }
  }

  // Max-heap on (count, left bytes, right bytes). Entries may be stale: a pair's count only
  // falls after it was pushed (a pair that gains is pushed again), so the top entry is the best
  // pair once its count is checked against the table.
  const auto less = [&tokens](const HeapEntry& a, const HeapEntry& b) {
    if (a.count != b.count) return a.count < b.count;
    if (a.pair == b.pair) return false;
    const std::string& al = tokens[Left(a.pair)];
    const std::string& bl = tokens[Left(b.pair)];
    if (const int c = al.compare(bl); c != 0) return c < 0;
    return tokens[Right(a.pair)].compare(tokens[Right(b.pair)]) < 0;
  };
  std::vector<HeapEntry> initial;
  initial.reserve(pairs.size());
  for (const auto& [key, p] : pairs) initial.push_back({p.count, key});
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, decltype(less)> heap(less,
                                                                              std::move(initial));

  const size_t merges_total = target_ranks - 256;
  std::vector<PairKey> gained;
  absl::flat_hash_set<PairKey> gained_set;
  uint32_t step = 0;
  BpeProgress progress;
  progress.merges_total = merges_total;
  while (tokens.size() < target_ranks) {
    if (heap.empty()) {
      model.stopped_early = true;
      break;
    }
    const HeapEntry top = heap.top();
    heap.pop();
    auto found = pairs.find(top.pair);
    if (found == pairs.end() || found->second.count <= 0) continue;
    if (found->second.count != top.count) {
      heap.push({found->second.count, top.pair});
      continue;
    }
    if (static_cast<uint64_t>(top.count) < options_.min_frequency) {
      model.stopped_early = true;
      break;
    }
    const TokenId a = Left(top.pair);
    const TokenId b = Right(top.pair);
    std::string merged = tokens[a] + tokens[b];
    TokenId z;
    if (auto existing = rank_of.find(merged); existing != rank_of.end()) {
      z = existing->second;
      ++model.duplicate_merges;
    } else {
      z = static_cast<TokenId>(tokens.size());
      rank_of.emplace(merged, z);
      tokens.push_back(std::move(merged));
    }
    model.merges.push_back({a, b, z, static_cast<uint64_t>(top.count)});
    std::vector<uint32_t> where = std::move(found->second.chunks);
    pairs.erase(found);
    ++step;

    gained.clear();
    gained_set.clear();
    const auto add = [&](TokenId l, TokenId r, int64_t delta, uint32_t w) {
      const PairKey key = Key(l, r);
      if (key == top.pair) return;  // gone everywhere after this step
      if (delta > 0) {
        PairStats& p = pairs[key];
        p.count += delta;
        if (p.chunks.empty() || p.chunks.back() != w) p.chunks.push_back(w);
        if (gained_set.insert(key).second) gained.push_back(key);
        return;
      }
      // The pair is in this chunk, so it is counted (at least c times).
      auto it = pairs.find(key);
      it->second.count += delta;
      if (it->second.count <= 0) pairs.erase(it);
    };
    for (uint32_t w : where) {
      if (chunks.stamp[w] == step) continue;
      chunks.stamp[w] = step;
      TokenId* s = &chunks.symbols[chunks.start[w]];
      const uint32_t n = chunks.length[w];
      const int64_t c = chunks.count[w];
      uint32_t out = 0;
      for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
          if (out > 0) {
            add(s[out - 1], a, -c, w);
            add(s[out - 1], z, c, w);
          }
          if (i + 2 < n) {
            add(b, s[i + 2], -c, w);
            add(z, s[i + 2], c, w);
          }
          s[out++] = z;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      chunks.length[w] = out;
    }
    for (PairKey key : gained) {
      auto it = pairs.find(key);
      if (it != pairs.end() && it->second.count > 0) heap.push({it->second.count, key});
    }

    progress.merges_done = model.merges.size();
    progress.last_count = static_cast<uint64_t>(top.count);
    if (options_.progress && options_.progress_every > 0 &&
        progress.merges_done % options_.progress_every == 0) {
      progress.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      options_.progress(progress);
    }
  }
  if (options_.progress) {
    progress.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    options_.progress(progress);
  }
  // Specials right after the last rank: the last ids of vocab_size when training filled it.
  for (size_t i = 0; i < num_specials; ++i) {
    model.specials[options_.specials[i]] = static_cast<TokenId>(tokens.size() + i);
  }
  return model;
}

absl::StatusOr<BpeModel> TrainBpe(const BpeTrainerOptions& options,
                                  const std::function<bool(std::string* text)>& next) {
  BpeTrainer trainer(options);
  std::string text;
  while (next(&text)) trainer.AddText(text);
  return trainer.Train();
}

}  // namespace winnow::trainer
