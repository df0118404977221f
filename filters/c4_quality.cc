#include "filters/c4_quality.h"

#include <string.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "filters/scores.h"
#include "pipeline/text/py_str.h"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"

namespace winnow::filters {
namespace {

using pipeline::CodePointCount;
using pipeline::Verdict;

constexpr std::string_view kPolicyPhrases[] = {"terms of use", "privacy policy", "cookie policy",
                                               "uses cookies", "use of cookies", "use cookies"};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// CITATION_REGEX.sub("", line) with `\[\d*]|\[edit]|\[citation needed]` (\d: Unicode digits).
// Returns `line` itself when there is nothing to remove, else a view of `*buffer`.
std::string_view RemoveCitations(std::string_view line, std::string* buffer) {
  size_t open = line.find('[');
  if (open == std::string_view::npos) return line;
  buffer->clear();
  size_t copied = 0;  // line[0, copied) is dealt with
  while (open != std::string_view::npos) {
    size_t end = 0;  // one past the citation, 0 if none at `open`
    size_t j = open + 1;
    while (j < line.size()) {
      size_t next = j;
      if (!(pipeline::CharFlags(pipeline::DecodeUtf8(line, &next)) & pipeline::kCharDigit)) break;
      j = next;
    }
    if (j < line.size() && line[j] == ']') {
      end = j + 1;
    } else if (line.compare(open, 6, "[edit]") == 0) {
      end = open + 6;
    } else if (line.compare(open, 17, "[citation needed]") == 0) {
      end = open + 17;
    }
    if (end != 0) {
      buffer->append(line.substr(copied, open - copied));
      copied = end;
      open = line.find('[', end);
    } else {
      open = line.find('[', open + 1);
    }
  }
  if (copied == 0) return line;
  buffer->append(line.substr(copied));
  return *buffer;
}

// str.lower() as far as matching ASCII phrases is concerned: ASCII letters lower-cased, and the two
// non-ASCII characters whose lower case holds an ASCII letter (U+0130 → "i̇", U+212A KELVIN SIGN →
// "k") mapped; every other byte kept.
void LowerForSearch(std::string_view s, std::string* out) {
  out->resize(s.size());
  char* dst = out->data();
  size_t i = 0;
  // ASCII upper-case letters to lower case, 8 bytes at a time; non-ASCII bytes stay as they are.
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    const uint64_t a = v & 0x7F7F7F7F7F7F7F7FULL;
    const uint64_t at_least_a = a + 0x3F3F3F3F3F3F3F3FULL;  // bit 7: byte >= 'A'
    const uint64_t above_z = a + 0x2525252525252525ULL;     // bit 7: byte > 'Z'
    const uint64_t upper = at_least_a & ~above_z & ~v & 0x8080808080808080ULL;
    v |= upper >> 2;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    dst[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  // The two characters whose lower case holds an ASCII letter (rare: fix up afterwards).
  if (s.find("\u0130") != std::string_view::npos || s.find("\u212A") != std::string_view::npos) {
    std::string fixed;
    for (size_t k = 0; k < out->size(); ++k) {
      if (s.compare(k, 2, "\u0130") == 0) {
        fixed.append("i\u0307");
        ++k;
      } else if (s.compare(k, 3, "\u212A") == 0) {
        fixed.push_back('k');
        k += 2;
      } else {
        fixed.push_back((*out)[k]);
      }
    }
    out->swap(fixed);
  }
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return ::memmem(haystack.data(), haystack.size(), needle.data(), needle.size()) != nullptr;
}

// datatrove's split_into_sentences pieces: text cut at the end of every spaCy sentence but the
// last.
void SentencePieces(std::string_view text, std::vector<std::string_view>* pieces) {
  thread_local std::vector<std::pair<size_t, size_t>> spans;
  pipeline::SentenceSpans(text, &spans);
  pieces->clear();
  size_t start = 0;
  for (size_t k = 0; k + 1 < spans.size(); ++k) {
    pieces->push_back(text.substr(start, spans[k].second - start));
    start = spans[k].second;
  }
  pieces->push_back(text.substr(start));
}

}  // namespace

void BindParams(C4QualityOptions* o, ParamBinder* binder) {
  binder->Bool("split_paragraph", &o->split_paragraph);
  binder->Bool("remove_citations", &o->remove_citations);
  binder->Bool("filter_no_terminal_punct", &o->filter_no_terminal_punct);
  binder->Int("min_num_sentences", &o->min_num_sentences);
  binder->Int("min_words_per_line", &o->min_words_per_line);
  binder->Int("max_word_length", &o->max_word_length);
  binder->Bool("filter_lorem_ipsum", &o->filter_lorem_ipsum);
  binder->Bool("filter_javascript", &o->filter_javascript);
  binder->Bool("filter_curly_bracket", &o->filter_curly_bracket);
  binder->Bool("filter_policy", &o->filter_policy);
}

void ApplyFinewebV1Profile(C4QualityOptions*) {}

Verdict C4QualityFilter::Check(pipeline::Document* doc) const {
  const C4QualityOptions& o = options_;
  Scores scores(doc, name());
  const std::string_view text = doc->text;
  thread_local std::vector<std::string_view> lines, line_words;
  thread_local std::string cleaned, lowered, kept;
  thread_local std::vector<std::pair<size_t, size_t>> kept_words;  // (offset in kept, bytes)
  if (o.split_paragraph) {
    pipeline::PySplitLines(text, &lines);
  } else {
    SentencePieces(text, &lines);
  }
  scores.Set("lines", lines.size());
  // Sentences are counted on the words of the whole text (shared with the other filters through
  // the per-thread cache); the words of the kept lines then become the cached words of the
  // rewritten text, for the filters after this one.
  const bool count_per_line = o.min_num_sentences != -1 && o.split_paragraph;
  const std::vector<std::string_view>* text_words =
      count_per_line ? &pipeline::SplitWordsCached(text) : nullptr;
  size_t cursor = 0;  // first word of text_words not before the current line
  const bool lower_needed = o.filter_lorem_ipsum || o.filter_javascript || o.filter_policy;
  long num_sentences = 0;
  size_t kept_lines = 0;
  kept.clear();
  kept_words.clear();
  bool first_kept = true;
  for (std::string_view raw : lines) {
    const std::string_view stripped = pipeline::PyStrip(raw);
    // line.split(): how many words (enough to know whether there are min_words_per_line), and
    // whether one is longer than max_word_length code points (only possible in a longer line).
    const bool check_long =
        o.max_word_length != -1 && static_cast<long>(stripped.size()) > o.max_word_length;
    long num_words = 0;
    bool too_long = false;
    for (size_t i = 0; i < stripped.size();) {
      if (!check_long && num_words >= o.min_words_per_line) break;
      size_t n;
      while (i < stripped.size() && (n = pipeline::PySpaceAt(stripped, i)) > 0) i += n;
      if (i >= stripped.size()) break;
      const size_t start = i;
      while (i < stripped.size() && pipeline::PySpaceAt(stripped, i) == 0) ++i;
      ++num_words;
      if (check_long && static_cast<long>(i - start) > o.max_word_length &&
          static_cast<long>(CodePointCount(stripped.substr(start, i - start))) >
              o.max_word_length) {
        too_long = true;
        break;
      }
    }
    if (too_long) continue;
    const std::string_view line =
        o.remove_citations ? RemoveCitations(stripped, &cleaned) : stripped;
    if (o.filter_no_terminal_punct) {
      const bool terminal = EndsWith(line, ".") || EndsWith(line, "?") || EndsWith(line, "!") ||
                            EndsWith(line, "\"") || EndsWith(line, "'");
      if (!terminal || EndsWith(line, "...")) continue;
    }
    if (num_words < o.min_words_per_line) continue;
    if (lower_needed) LowerForSearch(line, &lowered);
    if (o.filter_lorem_ipsum && Contains(lowered, "lorem ipsum")) {
      return Verdict::Drop("lorem_ipsum");
    }
    if (o.filter_javascript && Contains(lowered, "javascript")) continue;
    if (o.filter_curly_bracket && line.find('{') != std::string_view::npos) {
      return Verdict::Drop("curly_bracket");
    }
    if (o.filter_policy) {
      // Every policy phrase contains "policy", "cookies" or "terms of use": look for those first.
      bool policy = false;
      if (Contains(lowered, "policy") || Contains(lowered, "cookies") ||
          Contains(lowered, "terms of use")) {
        for (std::string_view p : kPolicyPhrases) policy |= Contains(lowered, p);
      }
      if (policy) continue;
    }
    if (!first_kept) kept.push_back(o.split_paragraph ? '\n' : ' ');
    const size_t at = kept.size();
    if (count_per_line) {
      std::span<const std::string_view> line_span;
      if (line.data() == stripped.data() && line.size() == stripped.size()) {
        const std::vector<std::string_view>& all = *text_words;
        while (cursor < all.size() && all[cursor].data() < line.data()) ++cursor;
        size_t end = cursor;
        while (end < all.size() && all[end].data() < line.data() + line.size()) ++end;
        line_span = std::span<const std::string_view>(all.data() + cursor, end - cursor);
        cursor = end;
      } else {  // citations removed: the line has words of its own
        pipeline::SplitWords(line, &line_words);
        line_span = line_words;
      }
      num_sentences += std::max(1, pipeline::CountSentenceSpans(line, line_span));
      for (std::string_view w : line_span)
        kept_words.emplace_back(at + (w.data() - line.data()), w.size());
    } else if (o.min_num_sentences != -1) {
      num_sentences += 1;
    }
    kept.append(line);
    first_kept = false;
    ++kept_lines;
  }
  scores.Set("kept_lines", kept_lines);
  if (o.min_num_sentences != -1) scores.Set("sentences", num_sentences);
  if (num_sentences < o.min_num_sentences) return Verdict::Drop("too_few_sentences");
  const std::string_view result = pipeline::PyStrip(kept);
  const size_t shift = result.data() - kept.data();
  doc->text = std::string(result);
  if (count_per_line) {
    thread_local std::vector<std::string_view> new_words;
    new_words.clear();
    for (const auto& [offset, bytes] : kept_words) {
      new_words.emplace_back(doc->text.data() + offset - shift, bytes);
    }
    pipeline::PrimeWordsCache(doc->text, &new_words);
  }
  return Verdict::Keep();
}

void BindParams(C4ParagraphOptions* o, ParamBinder* binder) {
  binder->Int("min_paragraphs", &o->min_paragraphs);
  binder->Int("min_paragraph_len", &o->min_paragraph_len);
}

Verdict C4ParagraphFilter::Check(pipeline::Document* doc) const {
  Scores scores(doc, name());
  const std::string_view text = doc->text;
  const int want = std::max(options_.min_paragraphs, 0);
  // The `want` largest line lengths, largest first (want is small: 3 by default).
  thread_local std::vector<size_t> largest;
  largest.assign(want, 0);
  long num_lines = 0;
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++num_lines;
    size_t len = CodePointCount(line);
    for (int k = 0; k < want; ++k) {
      if (len > largest[k]) std::swap(len, largest[k]);
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  scores.Set("paragraphs", num_lines);
  if (want > 0) scores.Set("top_paragraph_len", largest[want - 1]);
  const bool enough_lines = num_lines >= options_.min_paragraphs;
  const bool long_enough = want == 0 || static_cast<long>(largest[want - 1]) >=
                                            static_cast<long>(options_.min_paragraph_len);
  if (!enough_lines || !long_enough) {
    return Verdict::Drop("< " + std::to_string(options_.min_paragraphs) + " paragraphs");
  }
  return Verdict::Keep();
}

}  // namespace winnow::filters
