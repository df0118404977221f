#include "filters/gopher_repetition.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "filters/scores.h"
#include "pipeline/text/duplicates.h"
#include "pipeline/text/py_str.h"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"

namespace winnow::filters {
namespace {

using pipeline::CodePointCount;
using pipeline::Verdict;

// re.split(r"\n{2,}", text): pieces between runs of two or more '\n'.
void SplitParagraphs(std::string_view text, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  size_t i = 0;
  while ((i = text.find("\n\n", i)) != std::string_view::npos) {
    out->push_back(text.substr(start, i - start));
    while (i < text.size() && text[i] == '\n') ++i;
    start = i;
  }
  out->push_back(text.substr(start));
}

// re.split("\n+", text): pieces between runs of '\n' (empty first/last piece kept).
void SplitLineRuns(std::string_view text, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  size_t i = 0;
  while ((i = text.find('\n', i)) != std::string_view::npos) {
    out->push_back(text.substr(start, i - start));
    while (i < text.size() && text[i] == '\n') ++i;
    start = i;
  }
  out->push_back(text.substr(start));
}

// Word n-gram statistics over one document's words. n-grams are never materialised: each is a
// range of words, hashed in O(1) (top n-grams) or from a contiguous copy of the words (duplicated
// n-grams), and compared exactly on equal hashes. Two exact prunings keep most positions out of
// the hash tables:
//  - an n-gram can occur twice only if its (n-1)-word prefix does, so a top-n-gram pass counts
//    only positions whose shorter prefix repeated in an earlier pass;
//  - two n-grams with the same concatenation of at least 16 bytes start with the same 16 bytes, so
//    a position whose next 16 bytes of concatenated words occur nowhere else can neither repeat an
//    earlier n-gram nor be repeated: the duplicated-n-gram passes skip it.
class NGrams {
 public:
  // Starts over on `words` (which must outlive the calls), keeping the buffers' capacity.
  void Reset(const std::vector<std::string_view>* words) {
    words_ = words;
    keys_ready_ = false;
    rep_n_ = 0;
    const size_t n = words->size();
    word_hash_.resize(n);
    chars_.resize(n + 1);
    offset_.resize(n + 1);
    tuple_prefix_.resize(n + 1);
    chars_[0] = 0;
    offset_[0] = 0;
    tuple_prefix_[0] = 0;
    stream_.clear();
    for (size_t i = 0; i < n; ++i) {
      const std::string_view w = (*words)[i];
      word_hash_[i] = pipeline::Fingerprint64(w);
      offset_[i + 1] = offset_[i] + w.size();
      tuple_prefix_[i + 1] = tuple_prefix_[i] * kTupleBase + word_hash_[i];
      stream_.append(w);
    }
    // Code points: bytes, unless some word has non-ASCII bytes.
    if (CodePointCount(stream_) == stream_.size()) {
      std::copy(offset_.begin(), offset_.begin() + n + 1, chars_.begin());
    } else {
      for (size_t i = 0; i < n; ++i) chars_[i + 1] = chars_[i] + CodePointCount((*words)[i]);
    }
  }

  // Gives back the memory a very large document took.
  void Trim() {
    if (stream_.capacity() > (size_t{1} << 24)) *this = NGrams();
  }

  // datatrove's find_top_duplicate over " ".join n-grams: len × count of the most frequent n-gram
  // (Counter.most_common: among equally frequent ones, the first to occur). Needs n <= words.
  size_t TopNGramChars(size_t n) {
    const size_t positions = words_->size() - n + 1;
    // Positions that may hold a repeated n-gram: all, or those whose rep_n_-word prefix repeats.
    const bool pruned = rep_n_ > 0 && rep_n_ < n;
    candidates_.clear();
    if (pruned) {
      for (uint32_t i : repeated_) {
        if (i < positions) candidates_.push_back(i);
      }
    } else {
      for (size_t i = 0; i < positions; ++i) candidates_.push_back(static_cast<uint32_t>(i));
    }
    PrepareTable(candidates_.size());
    slot_of_.resize(candidates_.size());
    uint64_t base_pow_n = 1;
    for (size_t k = 0; k < n; ++k) base_pow_n *= kTupleBase;
    uint32_t best_count = 1;
    size_t best_first = 0;  // with no repeats: the first n-gram, once
    for (size_t c = 0; c < candidates_.size(); ++c) {
      const size_t i = candidates_[c];
      const uint64_t h = tuple_prefix_[i + n] - tuple_prefix_[i] * base_pow_n;
      size_t s = Mix(h) & mask_;
      while (true) {
        Slot& slot = table_[s];
        if (slot.count == 0) {
          slot = Slot{h, static_cast<uint32_t>(i), 1};
          break;
        }
        if (slot.hash == h && SameTuple(slot.first, i, n)) {
          ++slot.count;
          if (slot.count > best_count || (slot.count == best_count && slot.first < best_first)) {
            best_count = slot.count;
            best_first = slot.first;
          }
          break;
        }
        s = (s + 1) & mask_;
      }
      slot_of_[c] = static_cast<uint32_t>(s);
    }
    // Remember which positions start a repeated n-gram, to prune longer n-grams.
    if (n > rep_n_) {
      repeated_.clear();
      for (size_t c = 0; c < candidates_.size(); ++c) {
        if (table_[slot_of_[c]].count >= 2) repeated_.push_back(candidates_[c]);
      }
      rep_n_ = n;
    }
    const size_t len = chars_[best_first + n] - chars_[best_first] + (n - 1);
    return len * best_count;
  }

  // datatrove's find_all_duplicate over "".join n-grams: scanning left to right, an n-gram equal to
  // one met before adds its length and skips n words; otherwise it is remembered and the scan
  // moves one word on. Needs n <= words.
  size_t DuplicateNGramChars(size_t n, size_t min_n) {
    PrepareKeys(min_n);
    const size_t positions = words_->size() - n + 1;
    candidates_.clear();
    for (uint32_t i : maybe_) {
      if (i < positions && MayRepeat(i, n)) candidates_.push_back(i);
    }
    if (candidates_.size() < 2) return 0;
    PrepareTable(candidates_.size());
    size_t repeated = 0;
    size_t next = 0;  // the scan's position: candidates before it were skipped over
    for (uint32_t i : candidates_) {
      if (i < next) continue;
      const size_t begin = offset_[i], bytes = offset_[i + n] - begin;
      const uint64_t h = pipeline::Fingerprint64(std::string_view(stream_).substr(begin, bytes));
      size_t s = Mix(h) & mask_;
      bool seen = false;
      while (table_[s].count != 0) {
        const size_t j = table_[s].first;
        if (table_[s].hash == h && offset_[j + n] - offset_[j] == bytes &&
            std::memcmp(stream_.data() + offset_[j], stream_.data() + begin, bytes) == 0) {
          seen = true;
          break;
        }
        s = (s + 1) & mask_;
      }
      if (seen) {
        repeated += chars_[i + n] - chars_[i];
        next = i + n;
      } else {
        table_[s] = Slot{h, i, 1};
        next = i + 1;
      }
    }
    return repeated;
  }

 private:
  static constexpr uint64_t kTupleBase = 0x9E3779B97F4A7C15ULL;
  static constexpr uint32_t kNoSlot = ~0u;
  static constexpr size_t kKeyBytes = 16;

  struct Slot {
    uint64_t hash;
    uint32_t first;  // word index where this n-gram first occurs
    uint32_t count;  // 0 = empty slot
  };

  static uint64_t Mix(uint64_t h) {
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 29);
  }

  void PrepareTable(size_t entries) {
    size_t cap = 16;
    while (cap < 2 * entries) cap <<= 1;
    if (table_.size() < cap) table_.resize(cap);
    std::memset(static_cast<void*>(table_.data()), 0, cap * sizeof(Slot));
    mask_ = cap - 1;
  }

  // Whether the n-gram at word i could equal another one (see the class comment).
  bool MayRepeat(size_t i, size_t n) const {
    return key_shared_[i] || offset_[i + n] - offset_[i] < kKeyBytes;
  }

  // key_shared_[i]: the kKeyBytes bytes of concatenated words from word i also start at another
  // word (or fewer than kKeyBytes bytes are left). maybe_: the positions that may repeat for some
  // n >= min_n (key shared, or min_n words shorter than kKeyBytes).
  void PrepareKeys(size_t min_n) {
    if (keys_ready_) return;
    keys_ready_ = true;
    const size_t n = words_->size();
    key_shared_.assign(n, 1);
    size_t with_key = 0;
    while (with_key < n && offset_[with_key] + kKeyBytes <= stream_.size()) ++with_key;
    PrepareTable(with_key);
    slot_of_.resize(with_key);
    for (size_t i = 0; i < with_key; ++i) {
      uint64_t a, b;  // the key: its kKeyBytes bytes, hashed (a collision only costs time)
      std::memcpy(&a, stream_.data() + offset_[i], 8);
      std::memcpy(&b, stream_.data() + offset_[i] + 8, 8);
      const uint64_t key = Mix(a) ^ (b * 0x9E3779B97F4A7C15ULL);
      size_t s = Mix(key) & mask_;
      while (table_[s].count != 0 && table_[s].hash != key) s = (s + 1) & mask_;
      if (table_[s].count == 0) table_[s] = Slot{key, 0, 1};
      table_[s].first += 1;  // occurrences of the key
      slot_of_[i] = static_cast<uint32_t>(s);
    }
    maybe_.clear();
    for (size_t i = 0; i < n; ++i) {
      if (i < with_key) key_shared_[i] = table_[slot_of_[i]].first >= 2;
      if (key_shared_[i] || offset_[std::min(i + min_n, n)] - offset_[i] < kKeyBytes) {
        maybe_.push_back(static_cast<uint32_t>(i));
      }
    }
  }

  bool SameTuple(size_t a, size_t b, size_t n) const {
    for (size_t k = 0; k < n; ++k) {
      if (word_hash_[a + k] != word_hash_[b + k] || (*words_)[a + k] != (*words_)[b + k]) {
        return false;
      }
    }
    return true;
  }

  const std::vector<std::string_view>* words_ = nullptr;
  std::vector<uint64_t> word_hash_;
  std::vector<size_t> chars_;   // chars_[i]: code points in words[0..i)
  std::vector<size_t> offset_;  // offset_[i]: bytes of words[0..i), i.e. word i's place in stream_
  std::vector<uint64_t> tuple_prefix_;
  std::string stream_;  // the words concatenated
  std::vector<Slot> table_;
  size_t mask_ = 0;
  std::vector<uint32_t> slot_of_;
  std::vector<uint32_t> candidates_;  // the positions a pass looks at, ascending
  std::vector<uint32_t> repeated_;    // positions whose rep_n_-gram occurs twice or more
  size_t rep_n_ = 0;
  std::vector<uint8_t> key_shared_;
  std::vector<uint32_t> maybe_;
  bool keys_ready_ = false;
};

}  // namespace

void BindParams(GopherRepetitionOptions* o, ParamBinder* binder) {
  binder->Double("dup_line_frac", &o->dup_line_frac);
  binder->Double("dup_para_frac", &o->dup_para_frac);
  binder->Double("dup_line_char_frac", &o->dup_line_char_frac);
  binder->Double("dup_para_char_frac", &o->dup_para_char_frac);
  binder->Thresholds("top_n_grams", &o->top_n_grams);
  binder->Thresholds("dup_n_grams", &o->dup_n_grams);
}

void ApplyFinewebV1Profile(GopherRepetitionOptions*) {}

GopherRepetitionFilter::GopherRepetitionFilter(GopherRepetitionOptions options)
    : options_(std::move(options)) {
  for (const auto& [n, frac] : options_.top_n_grams) {
    top_keys_.push_back("top_" + std::to_string(n) + "_gram");
  }
  for (const auto& [n, frac] : options_.dup_n_grams) {
    dup_keys_.push_back("duplicated_" + std::to_string(n) + "_n_grams");
  }
}

Verdict GopherRepetitionFilter::Check(pipeline::Document* doc) const {
  Scores scores(doc, name());
  const std::string_view text = doc->text;
  if (text.empty()) return Verdict::Drop("empty");
  const GopherRepetitionOptions& o = options_;
  const double text_len = static_cast<double>(CodePointCount(text));
  thread_local std::vector<std::string_view> parts;

  SplitParagraphs(pipeline::PyStrip(text), &parts);
  pipeline::DuplicateCount dup = pipeline::FindDuplicates(parts);
  const double para_frac = static_cast<double>(dup.elements) / static_cast<double>(parts.size());
  const double para_char_frac = static_cast<double>(dup.chars) / text_len;
  scores.Set("dup_para_frac", para_frac);
  scores.Set("dup_para_char_frac", para_char_frac);
  if (o.dup_para_frac != 0 && para_frac > o.dup_para_frac) return Verdict::Drop("dup_para_frac");
  if (o.dup_para_char_frac != 0 && para_char_frac > o.dup_para_char_frac) {
    return Verdict::Drop("dup_para_char_frac");
  }

  SplitLineRuns(text, &parts);
  dup = pipeline::FindDuplicates(parts);
  const double line_frac = static_cast<double>(dup.elements) / static_cast<double>(parts.size());
  const double line_char_frac = static_cast<double>(dup.chars) / text_len;
  scores.Set("dup_line_frac", line_frac);
  scores.Set("dup_line_char_frac", line_char_frac);
  if (o.dup_line_frac != 0 && line_frac > o.dup_line_frac) return Verdict::Drop("dup_line_frac");
  if (o.dup_line_char_frac != 0 && line_char_frac > o.dup_line_char_frac) {
    return Verdict::Drop("dup_line_char_frac");
  }

  if (o.top_n_grams.empty() && o.dup_n_grams.empty()) return Verdict::Keep();
  const std::vector<std::string_view>& words = pipeline::SplitWordsCached(text);
  thread_local NGrams ngrams;
  ngrams.Reset(&words);
  Verdict verdict = Verdict::Keep();
  for (size_t k = 0; k < o.top_n_grams.size(); ++k) {
    const auto& [n, frac] = o.top_n_grams[k];
    if (n <= 0 || static_cast<size_t>(n) > words.size()) continue;  // no n-grams: skipped
    const double share = static_cast<double>(ngrams.TopNGramChars(n)) / text_len;
    scores.Set(top_keys_[k], share);
    if (share > frac) {
      verdict = Verdict::Drop("top_" + std::to_string(n) + "_gram");
      break;
    }
  }
  if (verdict.kept) {
    size_t min_n = words.size();
    for (const auto& [n, frac] : o.dup_n_grams) {
      if (n > 0) min_n = std::min(min_n, static_cast<size_t>(n));
    }
    for (size_t k = 0; k < o.dup_n_grams.size(); ++k) {
      const auto& [n, frac] = o.dup_n_grams[k];
      const bool some = n > 0 && static_cast<size_t>(n) <= words.size();
      const size_t chars = some ? ngrams.DuplicateNGramChars(n, min_n) : 0;
      const double share = static_cast<double>(chars) / text_len;
      scores.Set(dup_keys_[k], share);
      if (share > frac) {
        verdict = Verdict::Drop("duplicated_" + std::to_string(n) + "_n_grams");
        break;
      }
    }
  }
  ngrams.Trim();
  return verdict;
}

}  // namespace winnow::filters
