#include "filters/gopher_repetition.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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
// range of words, hashed in O(1) from prefix hashes, and compared word by word on equal hashes.
class NGrams {
 public:
  // Starts over on `words` (which must outlive the calls), keeping the buffers' capacity.
  void Reset(const std::vector<std::string_view>* words) {
    words_ = words;
    concat_ready_ = false;
    const size_t n = words->size();
    word_hash_.resize(n);
    chars_.resize(n + 1);
    tuple_prefix_.resize(n + 1);
    chars_[0] = 0;
    tuple_prefix_[0] = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::string_view w = (*words)[i];
      word_hash_[i] = pipeline::Fingerprint64(w);
      chars_[i + 1] = chars_[i] + CodePointCount(w);
      tuple_prefix_[i + 1] = tuple_prefix_[i] * kTupleBase + word_hash_[i];
    }
  }

  // Gives back the memory a very large document took.
  void Trim() {
    if (table_.size() > (size_t{1} << 22)) {
      std::vector<Slot>().swap(table_);
      std::vector<uint64_t>().swap(word_hash_);
      std::vector<size_t>().swap(chars_);
      std::vector<uint64_t>().swap(tuple_prefix_);
      std::vector<uint64_t>().swap(concat_prefix_);
      std::vector<uint64_t>().swap(pow_prefix_);
      std::vector<uint64_t>().swap(inv_prefix_);
    }
  }

  // datatrove's find_top_duplicate over " ".join n-grams: len(most frequent) × its count; among
  // equally frequent n-grams the first to occur. 0 when there are fewer than n words.
  size_t TopNGramChars(size_t n) {
    const size_t w = words_->size();
    if (n == 0 || n > w) return 0;
    const size_t positions = w - n + 1;
    PrepareTable(positions);
    uint64_t base_pow_n = 1;
    for (size_t k = 0; k < n; ++k) base_pow_n *= kTupleBase;
    uint32_t best_count = 0;
    size_t best_first = 0;
    for (size_t i = 0; i < positions; ++i) {
      const uint64_t h = tuple_prefix_[i + n] - tuple_prefix_[i] * base_pow_n;
      size_t s = Mix(h) & mask_;
      while (true) {
        Slot& slot = table_[s];
        if (slot.count == 0) {
          slot = Slot{h, static_cast<uint32_t>(i), 1};
          if (best_count == 0) best_count = 1, best_first = i;
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
    }
    const size_t len = chars_[best_first + n] - chars_[best_first] + (n - 1);
    return len * best_count;
  }

  // datatrove's find_all_duplicate over "".join n-grams.
  size_t DuplicateNGramChars(size_t n) {
    const size_t w = words_->size();
    if (n == 0 || n > w) return 0;
    PrepareConcatHashes();
    const size_t positions = w - n + 1;
    PrepareTable(positions);
    size_t repeated = 0;
    size_t i = 0;
    while (i < positions) {
      const uint64_t h =
          concat_prefix_[i + n] - concat_prefix_[i] * pow_prefix_[i + n] * inv_prefix_[i];
      size_t s = Mix(h) & mask_;
      bool seen = false;
      while (table_[s].count != 0) {
        if (table_[s].hash == h && SameConcat(table_[s].first, i, n)) {
          seen = true;
          break;
        }
        s = (s + 1) & mask_;
      }
      if (seen) {
        repeated += chars_[i + n] - chars_[i];
        i += n;
      } else {
        table_[s] = Slot{h, static_cast<uint32_t>(i), 1};
        ++i;
      }
    }
    return repeated;
  }

 private:
  static constexpr uint64_t kTupleBase = 0x100000001B3ULL * 0x9E3779B1ULL | 1;
  static constexpr uint64_t kByteBase = 0x9E3779B97F4A7C15ULL | 1;  // odd: invertible mod 2^64

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

  static uint64_t Inverse(uint64_t a) {  // a^-1 mod 2^64 for odd a (Newton's iteration)
    uint64_t x = a;
    for (int i = 0; i < 6; ++i) x *= 2 - a * x;
    return x;
  }

  void PrepareTable(size_t entries) {
    size_t cap = 16;
    while (cap < 2 * entries) cap <<= 1;
    if (table_.size() != cap)
      table_.assign(cap, Slot{0, 0, 0});
    else
      std::memset(static_cast<void*>(table_.data()), 0, cap * sizeof(Slot));
    mask_ = cap - 1;
  }

  // Polynomial hashes over the bytes of the words concatenated: hash(words[i..i+n)) =
  // C[i+n] - C[i] × B^(bytes in words[i..i+n)), the power taken as P[i+n] × P[i]^-1.
  void PrepareConcatHashes() {
    if (concat_ready_) return;
    concat_ready_ = true;
    const size_t n = words_->size();
    concat_prefix_.resize(n + 1);
    pow_prefix_.resize(n + 1);
    inv_prefix_.resize(n + 1);
    concat_prefix_[0] = 0;
    pow_prefix_[0] = 1;
    inv_prefix_[0] = 1;
    const uint64_t inv_base = Inverse(kByteBase);
    for (size_t i = 0; i < n; ++i) {
      uint64_t h = concat_prefix_[i], p = pow_prefix_[i], q = inv_prefix_[i];
      for (char ch : (*words_)[i]) {
        h = h * kByteBase + static_cast<unsigned char>(ch) + 1;
        p *= kByteBase;
        q *= inv_base;
      }
      concat_prefix_[i + 1] = h;
      pow_prefix_[i + 1] = p;
      inv_prefix_[i + 1] = q;
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

  // Whether words[a..a+n) and words[b..b+n) spell the same bytes once concatenated.
  bool SameConcat(size_t a, size_t b, size_t n) const {
    if (a == b) return true;
    const std::vector<std::string_view>& words = *words_;
    size_t wa = a, wb = b, oa = 0, ob = 0;
    const size_t ea = a + n, eb = b + n;
    while (true) {
      while (wa < ea && oa == words[wa].size()) ++wa, oa = 0;
      while (wb < eb && ob == words[wb].size()) ++wb, ob = 0;
      if (wa == ea || wb == eb) return wa == ea && wb == eb;
      const size_t len = std::min(words[wa].size() - oa, words[wb].size() - ob);
      if (std::memcmp(words[wa].data() + oa, words[wb].data() + ob, len) != 0) return false;
      oa += len;
      ob += len;
    }
  }

  const std::vector<std::string_view>* words_ = nullptr;
  bool concat_ready_ = false;
  std::vector<uint64_t> word_hash_;
  std::vector<size_t> chars_;  // chars_[i]: code points in words[0..i)
  std::vector<uint64_t> tuple_prefix_;
  std::vector<uint64_t> concat_prefix_, pow_prefix_, inv_prefix_;
  std::vector<Slot> table_;
  size_t mask_ = 0;
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

Verdict GopherRepetitionFilter::Check(pipeline::Document* doc) const {
  const std::string_view text = doc->text;
  if (text.empty()) return Verdict::Drop("empty");
  const GopherRepetitionOptions& o = options_;
  const double text_len = static_cast<double>(CodePointCount(text));
  thread_local std::vector<std::string_view> parts;

  SplitParagraphs(pipeline::PyStrip(text), &parts);
  pipeline::DuplicateCount dup = pipeline::FindDuplicates(parts);
  if (o.dup_para_frac != 0 &&
      static_cast<double>(dup.elements) / static_cast<double>(parts.size()) > o.dup_para_frac) {
    return Verdict::Drop("dup_para_frac");
  }
  if (o.dup_para_char_frac != 0 &&
      static_cast<double>(dup.chars) / text_len > o.dup_para_char_frac) {
    return Verdict::Drop("dup_para_char_frac");
  }

  SplitLineRuns(text, &parts);
  dup = pipeline::FindDuplicates(parts);
  if (o.dup_line_frac != 0 &&
      static_cast<double>(dup.elements) / static_cast<double>(parts.size()) > o.dup_line_frac) {
    return Verdict::Drop("dup_line_frac");
  }
  if (o.dup_line_char_frac != 0 &&
      static_cast<double>(dup.chars) / text_len > o.dup_line_char_frac) {
    return Verdict::Drop("dup_line_char_frac");
  }

  if (o.top_n_grams.empty() && o.dup_n_grams.empty()) return Verdict::Keep();
  const std::vector<std::string_view>& words = pipeline::SplitWordsCached(text);
  thread_local NGrams ngrams;
  ngrams.Reset(&words);
  Verdict verdict = Verdict::Keep();
  for (const auto& [n, frac] : o.top_n_grams) {
    if (n <= 0 || static_cast<size_t>(n) > words.size()) continue;  // no n-grams: skipped
    if (static_cast<double>(ngrams.TopNGramChars(n)) / text_len > frac) {
      verdict = Verdict::Drop("top_" + std::to_string(n) + "_gram");
      break;
    }
  }
  if (verdict.kept) {
    for (const auto& [n, frac] : o.dup_n_grams) {
      const size_t chars = n > 0 ? ngrams.DuplicateNGramChars(n) : 0;
      if (static_cast<double>(chars) / text_len > frac) {
        verdict = Verdict::Drop("duplicated_" + std::to_string(n) + "_n_grams");
        break;
      }
    }
  }
  ngrams.Trim();
  return verdict;
}

}  // namespace winnow::filters
