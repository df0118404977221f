#include "filters/gopher_quality.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/scores.h"
#include "pipeline/text/py_str.h"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"

namespace winnow::filters {
namespace {

using pipeline::Verdict;

// Python str.count: non-overlapping occurrences.
size_t CountOccurrences(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t i = text.find(needle); i != std::string_view::npos;
       i = text.find(needle, i + needle.size())) {
    ++n;
  }
  return n;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr std::string_view kBullet = "\u2022";
constexpr std::string_view kEllipsis = "\u2026";

}  // namespace

void BindParams(GopherQualityOptions* o, ParamBinder* binder) {
  binder->Int("min_doc_words", &o->min_doc_words);
  binder->Int("max_doc_words", &o->max_doc_words);
  binder->Double("min_avg_word_length", &o->min_avg_word_length);
  binder->Double("max_avg_word_length", &o->max_avg_word_length);
  binder->Double("max_symbol_word_ratio", &o->max_symbol_word_ratio);
  binder->Double("max_bullet_lines_ratio", &o->max_bullet_lines_ratio);
  binder->Double("max_ellipsis_lines_ratio", &o->max_ellipsis_lines_ratio);
  binder->Double("max_non_alpha_words_ratio", &o->max_non_alpha_words_ratio);
  binder->Int("min_stop_words", &o->min_stop_words);
  binder->StringList("stop_words", &o->stop_words);
  binder->Bool("count_stop_word_occurrences", &o->count_stop_word_occurrences);
}

void ApplyFinewebV1Profile(GopherQualityOptions* options) {
  options->count_stop_word_occurrences = true;
}

GopherQualityFilter::GopherQualityFilter(GopherQualityOptions options)
    : options_(std::move(options)) {
  for (const std::string& w : options_.stop_words) {
    if (std::find(stop_words_.begin(), stop_words_.end(), w) != stop_words_.end()) continue;
    stop_words_.push_back(w);
    max_stop_word_bytes_ = std::max(max_stop_word_bytes_, w.size());
  }
}

Verdict GopherQualityFilter::Check(pipeline::Document* doc) const {
  const GopherQualityOptions& o = options_;
  Scores scores(doc, name());
  const std::string_view text = doc->text;
  const std::vector<std::string_view>& words = pipeline::SplitWordsCached(text);
  const size_t n_words = words.size();

  size_t non_symbol = 0, non_symbol_chars = 0, alpha_words = 0;
  for (std::string_view w : words) {
    bool symbol_only = true, has_alpha = false;
    size_t chars = 0;
    for (size_t i = 0; i < w.size(); ++chars) {
      const uint32_t f = pipeline::CharFlags(pipeline::DecodeUtf8(w, &i));
      symbol_only &= (f & pipeline::kCharDatatrovePunct) != 0;
      has_alpha |= (f & pipeline::kCharPyAlpha) != 0;
    }
    if (!symbol_only) {
      ++non_symbol;
      non_symbol_chars += chars;
    }
    alpha_words += has_alpha;
  }
  scores.Set("words", non_symbol);

  if (o.min_doc_words != 0 && non_symbol < static_cast<size_t>(std::max(o.min_doc_words, 0))) {
    return Verdict::Drop("gopher_short_doc");
  }
  if (o.max_doc_words != 0 && static_cast<double>(non_symbol) > o.max_doc_words) {
    return Verdict::Drop("gopher_long_doc");
  }
  if (non_symbol > 0) {  // the mean of no words is NaN: both comparisons false
    const double avg = static_cast<double>(non_symbol_chars) / static_cast<double>(non_symbol);
    scores.Set("avg_word_length", avg);
    if (o.min_avg_word_length != 0 && avg < o.min_avg_word_length) {
      return Verdict::Drop("gopher_below_avg_threshold");
    }
    if (o.max_avg_word_length != 0 && avg > o.max_avg_word_length) {
      return Verdict::Drop("gopher_above_avg_threshold");
    }
  }
  if (n_words == 0) {
    // No words (only reachable with min_doc_words = 0): the per-word ratios are undefined.
    if (o.min_stop_words > 0) return Verdict::Drop("gopher_enough_stop_words");
    return Verdict::Keep();
  }
  const double words_d = static_cast<double>(n_words);
  if (o.max_symbol_word_ratio != 0) {
    const double hash_ratio = static_cast<double>(CountOccurrences(text, "#")) / words_d;
    scores.Set("hash_ratio", hash_ratio);
    if (hash_ratio > o.max_symbol_word_ratio) return Verdict::Drop("gopher_too_many_hashes");
    const size_t ellipses = CountOccurrences(text, "...") + CountOccurrences(text, kEllipsis);
    const double ellipsis_ratio = static_cast<double>(ellipses) / words_d;
    scores.Set("ellipsis_ratio", ellipsis_ratio);
    if (ellipsis_ratio > o.max_symbol_word_ratio) {
      return Verdict::Drop("gopher_too_many_ellipsis");
    }
  }
  if (o.max_bullet_lines_ratio != 0 || o.max_ellipsis_lines_ratio != 0) {
    thread_local std::vector<std::string_view> lines;
    pipeline::PySplitLines(text, &lines);
    const double n_lines = static_cast<double>(lines.size());
    size_t bullets = 0, end_ellipsis = 0;
    for (std::string_view line : lines) {
      const std::string_view l = pipeline::PyLStrip(line);
      bullets += StartsWith(l, kBullet) || StartsWith(l, "-");
      const std::string_view r = pipeline::PyRStrip(line);
      end_ellipsis += EndsWith(r, "...") || EndsWith(r, kEllipsis);
    }
    const double bullet_ratio = static_cast<double>(bullets) / n_lines;
    const double end_ellipsis_ratio = static_cast<double>(end_ellipsis) / n_lines;
    scores.Set("bullet_lines_ratio", bullet_ratio);
    scores.Set("end_ellipsis_lines_ratio", end_ellipsis_ratio);
    if (o.max_bullet_lines_ratio != 0 && bullet_ratio > o.max_bullet_lines_ratio) {
      return Verdict::Drop("gopher_too_many_bullets");
    }
    if (o.max_ellipsis_lines_ratio != 0 && end_ellipsis_ratio > o.max_ellipsis_lines_ratio) {
      return Verdict::Drop("gopher_too_many_end_ellipsis");
    }
  }
  const double alpha_ratio = static_cast<double>(alpha_words) / words_d;
  scores.Set("alpha_words_ratio", alpha_ratio);
  if (o.max_non_alpha_words_ratio != 0 && alpha_ratio < o.max_non_alpha_words_ratio) {
    return Verdict::Drop("gopher_below_alpha_threshold");
  }
  if (o.min_stop_words != 0) {
    // One pass over the words, stopping as soon as enough stop words were seen.
    const double needed = o.min_stop_words;
    size_t found = 0;
    std::vector<bool> seen(stop_words_.size(), false);
    for (std::string_view w : words) {
      if (w.size() > max_stop_word_bytes_) continue;
      for (size_t k = 0; k < stop_words_.size(); ++k) {
        if (w != stop_words_[k]) continue;
        if (o.count_stop_word_occurrences) {
          ++found;
        } else if (!seen[k]) {
          seen[k] = true;
          ++found;
        }
        break;
      }
      if (static_cast<double>(found) >= needed) break;
    }
    scores.Set("stop_words", found);
    if (static_cast<double>(found) < needed) return Verdict::Drop("gopher_enough_stop_words");
  }
  return Verdict::Keep();
}

}  // namespace winnow::filters
