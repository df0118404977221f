#include "filters/fineweb_quality.h"

#include <string_view>
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

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

void BindParams(FineWebQualityOptions* o, ParamBinder* binder) {
  binder->Double("line_punct_thr", &o->line_punct_thr);
  binder->Bool("line_punct_exclude_zero", &o->line_punct_exclude_zero);
  binder->StringList("stop_chars", &o->stop_chars);
  binder->Double("short_line_thr", &o->short_line_thr);
  binder->Int("short_line_length", &o->short_line_length);
  binder->Double("char_duplicates_ratio", &o->char_duplicates_ratio);
  binder->Double("new_line_ratio", &o->new_line_ratio);
  binder->Bool("remove_empty_lines", &o->remove_empty_lines);
  binder->Bool("inclusive_comparisons", &o->inclusive_comparisons);
}

void ApplyFinewebV1Profile(FineWebQualityOptions* options) {
  options->remove_empty_lines = false;
  options->inclusive_comparisons = true;
  options->stop_chars = {".", "'", "\"", "!", "?"};
}

Verdict FineWebQualityFilter::Check(pipeline::Document* doc) const {
  const FineWebQualityOptions& o = options_;
  Scores scores(doc, name());
  const std::string_view text = doc->text;
  thread_local std::vector<std::string_view> lines;
  lines.clear();
  size_t newlines = 0;
  for (size_t start = 0;;) {
    const size_t nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!o.remove_empty_lines || !pipeline::PyStrip(line).empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    ++newlines;
    start = nl + 1;
  }
  if (lines.empty()) return Verdict::Drop("empty");
  const double n = static_cast<double>(lines.size());
  auto below = [&](double v, double t) { return o.inclusive_comparisons ? v <= t : v < t; };
  auto above = [&](double v, double t) { return o.inclusive_comparisons ? v >= t : v > t; };

  size_t punct = 0, short_lines = 0;
  for (std::string_view line : lines) {
    bool ends = false;
    if (o.stop_chars.empty()) {
      if (!line.empty()) {
        size_t start;
        const char32_t c = pipeline::DecodeUtf8Before(line, line.size(), &start);
        ends = (pipeline::CharFlags(c) & pipeline::kCharTerminalPunct) != 0;
      }
    } else {
      for (const std::string& s : o.stop_chars) ends |= EndsWith(line, s);
    }
    punct += ends;
    // A line of at most short_line_length bytes is short whatever its characters.
    short_lines += static_cast<long>(line.size()) <= o.short_line_length ||
                   static_cast<long>(CodePointCount(line)) <= o.short_line_length;
  }
  const double punct_ratio = static_cast<double>(punct) / n;
  const double short_ratio = static_cast<double>(short_lines) / n;
  scores.Set("line_punct_ratio", punct_ratio);
  scores.Set("short_line_ratio", short_ratio);
  if (below(punct_ratio, o.line_punct_thr) && !(punct_ratio == 0 && o.line_punct_exclude_zero)) {
    return Verdict::Drop("line_punct_ratio");
  }
  if (above(short_ratio, o.short_line_thr)) {
    return Verdict::Drop("short_line_ratio");
  }
  const size_t chars = CodePointCount(text) - newlines;
  const pipeline::DuplicateCount dup = pipeline::FindDuplicates(lines);
  const double dup_ratio = chars == 0 ? 0.0 : static_cast<double>(dup.chars) / chars;
  scores.Set("char_dup_ratio", dup_ratio);
  if (above(dup_ratio, o.char_duplicates_ratio)) return Verdict::Drop("char_dup_ratio");
  const std::vector<std::string_view>& words = pipeline::SplitWordsCached(text);
  if (!words.empty()) {
    const double list_ratio = static_cast<double>(newlines) / static_cast<double>(words.size());
    scores.Set("list_ratio", list_ratio);
    if (list_ratio > o.new_line_ratio) return Verdict::Drop("list_ratio");
  }
  return Verdict::Keep();
}

}  // namespace winnow::filters
