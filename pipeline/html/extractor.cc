// pipeline/html/extractor.cc — see extractor.h.
//
// The selection works on a flat copy of gumbo's tree (dom.h) in five steps:
//   1. structure: runs of inline content beside blocks become synthetic paragraphs, containers
//      holding inline content only count as paragraphs, tables are told data from layout;
//   2. pruning: elements whose role, tag or class/id say navigation, sidebar, comments, share
//      widgets, cookie banners, … are set aside (hidden elements never made it into the copy);
//   3. scoring: every paragraph of 25+ characters scores 1 + its commas + 1 per 100 characters
//      (at most 3) and hands that to its five nearest ancestors (in full, half, then a third
//      per level); an ancestor starts from a bonus for its tag and its class/id words; scores are
//      scaled by the share of text that is not link text;
//   4. selection: the best ancestor, moved up when the runners-up share a parent or its parent
//      scores about as well, plus every sibling that scores near it or reads like prose;
//   5. cleaning: inside the selection, link lists, image galleries, forms and low-scoring
//      blocks go; what stays is written one block per line.
// When the result is short, it is redone with gentler pruning and the longest result is kept.
#include "pipeline/html/extractor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pipeline/html/dom.h"
#include "pipeline/html/prescan.h"

namespace winnow::pipeline {
namespace {

using html_internal::Dom;
using html_internal::DomNode;
using html_internal::DomOptions;
using html_internal::NodeKind;
namespace flag = html_internal;

// ---------------------------------------------------------------------------------------------
// Words in class and id attributes.

enum Category : uint16_t {
  kUnlikely = 1u << 0,  // boilerplate containers: removed before scoring (first attempt)
  kMaybe = 1u << 1,     // words that veto kUnlikely (the container may hold the article)
  kPositive = 1u << 2,  // +25 to a candidate
  kNegative = 1u << 3,  // -25 to a candidate
  kShare = 1u << 4,     // share / social widgets: removed from the result when short
  kByline = 1u << 5,    // author and date lines
};

struct Keyword {
  std::string_view word;
  uint16_t categories;
};

constexpr Keyword kKeywords[] = {
    // Boilerplate, also negative.
    {"-ad-", kUnlikely | kNegative},
    {"ad-break", kUnlikely},
    {"adsense", kUnlikely | kNegative},
    {"advert", kUnlikely | kNegative},
    {"agegate", kUnlikely},
    {"ai2html", kUnlikely},
    {"banner", kUnlikely | kNegative},
    {"breadcrumb", kUnlikely},
    {"combx", kUnlikely | kNegative},
    {"comment", kUnlikely | kNegative},
    {"community", kUnlikely},
    {"consent", kUnlikely | kNegative},
    {"cookie", kUnlikely | kNegative},
    {"cover-wrap", kUnlikely},
    {"disqus", kUnlikely},
    {"extra", kUnlikely},
    {"footer", kUnlikely | kNegative},
    {"gdpr", kUnlikely | kNegative},
    {"header", kUnlikely},
    {"legends", kUnlikely},
    {"menu", kUnlikely | kNegative},
    {"newsletter", kUnlikely | kNegative},
    {"pager", kUnlikely},
    {"pagination", kUnlikely},
    {"popup", kUnlikely},
    {"related", kUnlikely | kNegative},
    {"remark", kUnlikely},
    {"replies", kUnlikely},
    {"rss", kUnlikely},
    {"shoutbox", kUnlikely | kNegative},
    {"sidebar", kUnlikely | kNegative},
    {"skyscraper", kUnlikely | kNegative},
    {"social", kUnlikely | kShare},
    {"sponsor", kUnlikely | kNegative},
    {"supplemental", kUnlikely},
    {"yom-remote", kUnlikely},
    // May hold the article.
    {"and", kMaybe},
    {"article", kMaybe | kPositive},
    {"body", kMaybe | kPositive},
    {"column", kMaybe},
    {"content", kMaybe | kPositive},
    {"main", kMaybe | kPositive},
    {"shadow", kMaybe},
    // Other positive words.
    {"blog", kPositive},
    {"entry", kPositive},
    {"h-entry", kPositive},
    {"page", kPositive},
    {"post", kPositive},
    {"story", kPositive},
    {"text", kPositive},
    // Other negative words.
    {"com-", kNegative},
    {"contact", kNegative},
    {"foot", kNegative},
    {"hidden", kNegative},
    {"masthead", kNegative},
    {"media", kNegative},
    {"meta", kNegative},
    {"outbrain", kNegative},
    {"promo", kNegative},
    {"scroll", kNegative},
    {"share", kNegative | kShare},
    {"shopping", kNegative},
    {"tags", kNegative},
    {"tool", kNegative},
    {"widget", kNegative},
    // Bylines.
    {"byline", kByline},
    {"author", kByline},
    {"dateline", kByline},
    {"writtenby", kByline},
};

// Keywords bucketed by first byte, built once.
class KeywordIndex {
 public:
  KeywordIndex() {
    for (uint16_t i = 0; i < std::size(kKeywords); ++i) {
      by_first_[static_cast<unsigned char>(kKeywords[i].word[0])].push_back(i);
    }
  }
  // The union of the categories of every keyword occurring in `s` (ASCII case ignored).
  uint16_t Match(std::string_view s) const {
    uint16_t found = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = Lower(s[i]);
      for (uint16_t k : by_first_[static_cast<unsigned char>(c)]) {
        std::string_view w = kKeywords[k].word;
        if (i + w.size() > s.size()) continue;
        size_t j = 1;
        while (j < w.size() && Lower(s[i + j]) == w[j]) ++j;
        if (j == w.size()) found |= kKeywords[k].categories;
      }
    }
    return found;
  }

 private:
  static char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }
  std::array<std::vector<uint16_t>, 256> by_first_;
};

const KeywordIndex& Keywords() {
  static const KeywordIndex* index = new KeywordIndex();
  return *index;
}

// ---------------------------------------------------------------------------------------------
// Small text helpers.

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Characters (code points) of `text` with whitespace runs counted as one, and its commas.
void MeasureText(std::string_view text, int32_t* chars, int32_t* commas) {
  int32_t n = 0;
  int32_t c = 0;
  bool in_space = true;  // leading whitespace is not counted
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    if (IsSpace(static_cast<char>(b))) {
      if (!in_space) ++n;
      in_space = true;
      continue;
    }
    in_space = false;
    if ((b & 0xC0) != 0x80) ++n;
    if (b == ',') {
      ++c;
    } else if (b == 0xEF && i + 2 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) == 0xBC &&
               static_cast<unsigned char>(text[i + 2]) == 0x8C) {
      ++c;  // U+FF0C fullwidth comma
    } else if (b == 0xE3 && i + 2 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               static_cast<unsigned char>(text[i + 2]) == 0x81) {
      ++c;  // U+3001 ideographic comma
    } else if (b == 0xD8 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) == 0x8C) {
      ++c;  // U+060C Arabic comma
    }
  }
  if (in_space && n > 0) --n;  // a trailing run
  *chars = n;
  *commas = c;
}

bool IsHeading(GumboTag tag) { return tag >= GUMBO_TAG_H1 && tag <= GUMBO_TAG_H6; }

// ---------------------------------------------------------------------------------------------
// Output: one block per line.

class LineWriter {
 public:
  explicit LineWriter(std::string* out) : out_(out) {}

  void Text(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (IsSpace(c)) {
        pending_space_ = true;
        continue;
      }
      if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {  // no-break space
        pending_space_ = true;
        ++i;
        continue;
      }
      if (pending_space_ && out_->size() > line_start_) out_->push_back(' ');
      pending_space_ = false;
      out_->push_back(c);
    }
  }

  // Preformatted text: spaces kept, each source line an output line.
  void Preformatted(std::string_view text) {
    for (char c : text) {
      if (c == '\n') {
        EndLine();
      } else if (c == '\r') {
        continue;
      } else {
        if (pending_space_ && out_->size() > line_start_) out_->push_back(' ');
        pending_space_ = false;
        out_->push_back(c);
      }
    }
  }

  void Raw(std::string_view text) {
    pending_space_ = false;
    out_->append(text);
  }

  void EndLine() {
    // Trim trailing spaces of the line.
    while (out_->size() > line_start_ && out_->back() == ' ') out_->pop_back();
    if (out_->size() > line_start_) {
      out_->push_back('\n');
      line_start_ = out_->size();
    }
    pending_space_ = false;
  }

  void Finish() {
    EndLine();
    while (!out_->empty() && out_->back() == '\n') out_->pop_back();
  }

  bool LineEmpty() const { return out_->size() == line_start_; }

 private:
  std::string* out_;
  size_t line_start_ = 0;
  bool pending_space_ = false;
};

// ---------------------------------------------------------------------------------------------
// The extractor proper.

struct Attempt {
  bool strip_unlikely = true;       // remove boilerplate-looking containers before scoring
  bool weight_classes = true;       // class/id words move scores
  bool clean_conditionally = true;  // remove low-value blocks from the selection
};

class Extractor {
 public:
  Extractor(Dom* dom, const ExtractOptions& options) : dom_(*dom), options_(options) { Prepare(); }

  // The main text (empty when the page has none).
  std::string MainText(std::chrono::steady_clock::time_point deadline, bool* timed_out);
  // All visible text under the body.
  std::string AllText();

 private:
  DomNode& N(int32_t i) { return dom_.nodes()[static_cast<size_t>(i)]; }
  bool Removed(int32_t i) { return (N(i).flags & flag::kRemoved) != 0; }

  void Prepare();
  void GroupInlineRuns(int32_t element);
  void UnwrapSingleParagraph(int32_t div);
  void MarkDataTables();
  void ComputeOrder();

  std::string RunAttempt(const Attempt& attempt);
  void Prune(const Attempt& attempt);
  void Aggregate();
  void Score(const Attempt& attempt);
  int32_t ClassWeight(int32_t i, const Attempt& attempt) const;
  double LinkDensity(int32_t i) const {
    return chars_[static_cast<size_t>(i)] > 0
               ? link_chars_[static_cast<size_t>(i)] / chars_[static_cast<size_t>(i)]
               : 0.0;
  }
  std::vector<int32_t> Select(const Attempt& attempt);
  void Clean(const std::vector<int32_t>& roots, const Attempt& attempt);
  bool ShouldRemoveConditionally(int32_t i, const Attempt& attempt);
  void RemoveNode(int32_t i);
  void Write(const std::vector<int32_t>& roots, std::string* out);
  void WriteCells(int32_t row, LineWriter* writer);
  void CollectText(int32_t node, std::string* out);

  bool IsParagraph(int32_t i) {
    const DomNode& n = N(i);
    return n.kind == NodeKind::kParagraph || n.tag == GUMBO_TAG_P ||
           (n.flags & flag::kParagraphLike) != 0;
  }

  Dom& dom_;
  const ExtractOptions& options_;
  std::vector<int32_t> order_;       // pre-order of every node
  std::vector<uint16_t> class_cat_;  // categories of the class attribute
  std::vector<uint16_t> id_cat_;     // categories of the id attribute
  std::vector<int32_t> text_chars_;  // text nodes: characters
  std::vector<int32_t> text_commas_;
  // Per attempt.
  std::vector<double> chars_;
  std::vector<double> link_chars_;
  std::vector<int32_t> commas_;
  std::vector<double> score_;
  std::vector<uint8_t> scored_;
  std::string title_;
};

void Extractor::Prepare() {
  std::vector<DomNode>& nodes = dom_.nodes();
  const size_t original = nodes.size();
  text_chars_.assign(original, 0);
  text_commas_.assign(original, 0);
  for (size_t i = 0; i < original; ++i) {
    if (nodes[i].kind == NodeKind::kText) {
      MeasureText(nodes[i].text, &text_chars_[i], &text_commas_[i]);
    }
  }
  // A div that only wraps one paragraph is that paragraph (bottom-up, so wrappers of wrappers
  // go too).
  for (size_t i = original; i-- > 0;) {
    if (nodes[i].kind == NodeKind::kElement && nodes[i].tag == GUMBO_TAG_DIV) {
      UnwrapSingleParagraph(static_cast<int32_t>(i));
    }
  }
  // Block descendants, bottom-up (the copy is in pre-order: children follow parents).
  for (size_t i = original; i-- > 0;) {
    const DomNode& n = nodes[i];
    if (n.parent >= 0 && (n.flags & (flag::kBlock | flag::kHasBlock)) != 0) {
      nodes[static_cast<size_t>(n.parent)].flags |= flag::kHasBlock;
    }
  }
  for (size_t i = 0; i < original; ++i) {
    DomNode& n = nodes[i];
    if (n.kind != NodeKind::kElement) continue;
    if ((n.flags & flag::kHasBlock) != 0) {
      GroupInlineRuns(static_cast<int32_t>(i));
    } else if ((n.flags & flag::kBlock) != 0) {
      switch (n.tag) {
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_SECTION:
        case GUMBO_TAG_ARTICLE:
        case GUMBO_TAG_MAIN:
        case GUMBO_TAG_CENTER:
        case GUMBO_TAG_UNKNOWN:
          nodes[i].flags |= flag::kParagraphLike;
          break;
        default:
          break;
      }
    }
  }
  ComputeOrder();
  // Inherited flags, keyword categories.
  const size_t total = nodes.size();
  class_cat_.assign(total, 0);
  id_cat_.assign(total, 0);
  text_chars_.resize(total, 0);
  text_commas_.resize(total, 0);
  const KeywordIndex& keywords = Keywords();
  for (int32_t i : order_) {
    DomNode& n = nodes[static_cast<size_t>(i)];
    if (n.parent >= 0) {
      n.flags |= nodes[static_cast<size_t>(n.parent)].flags &
                 (flag::kInCode | flag::kInTable | flag::kInFigure);
    }
    if (n.kind != NodeKind::kElement) continue;
    if (n.tag == GUMBO_TAG_PRE || n.tag == GUMBO_TAG_CODE) n.flags |= flag::kInCode;
    if (n.tag == GUMBO_TAG_FIGURE) n.flags |= flag::kInFigure;
    if (!n.class_name.empty()) class_cat_[static_cast<size_t>(i)] = keywords.Match(n.class_name);
    if (!n.id.empty()) id_cat_[static_cast<size_t>(i)] = keywords.Match(n.id);
  }
  MarkDataTables();
  for (int32_t i : order_) {
    DomNode& n = nodes[static_cast<size_t>(i)];
    if (n.tag == GUMBO_TAG_TABLE && n.kind == NodeKind::kElement) {
      // Children of a table are inside it; the flag is set on the way down.
      for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) N(c).flags |= flag::kInTable;
    } else if (n.parent >= 0 && (N(n.parent).flags & flag::kInTable) != 0) {
      n.flags |= flag::kInTable;
    }
  }
  std::string_view title = dom_.og_title().empty() ? dom_.title() : dom_.og_title();
  std::string collapsed;
  LineWriter writer(&collapsed);
  writer.Text(title);
  writer.Finish();
  title_ = collapsed;
}

void Extractor::UnwrapSingleParagraph(int32_t div) {
  int32_t only = -1;
  for (int32_t c = N(div).first_child; c >= 0; c = N(c).next_sibling) {
    const DomNode& n = N(c);
    if (n.kind == NodeKind::kText) {
      if ((n.flags & flag::kWhitespace) == 0) return;
      continue;
    }
    if (only >= 0 || n.tag != GUMBO_TAG_P) return;
    only = c;
  }
  const int32_t parent = N(div).parent;
  if (only < 0 || parent < 0) return;
  // Only a paragraph of prose: not a wrapped link list.
  double chars = 0;
  double link_chars = 0;
  std::vector<std::pair<int32_t, bool>> stack = {{only, false}};
  while (!stack.empty()) {
    const auto [w, in_link] = stack.back();
    stack.pop_back();
    const DomNode& n = N(w);
    if (n.kind == NodeKind::kText) {
      chars += text_chars_[static_cast<size_t>(w)];
      if (in_link) link_chars += text_chars_[static_cast<size_t>(w)];
      continue;
    }
    const bool link = in_link || n.tag == GUMBO_TAG_A;
    for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back({c, link});
  }
  if (chars > 0 && link_chars / chars >= 0.25) return;
  // Put the paragraph where the div was.
  DomNode& p = N(parent);
  int32_t prev = -1;
  for (int32_t c = p.first_child; c >= 0 && c != div; c = N(c).next_sibling) prev = c;
  N(only).parent = parent;
  N(only).next_sibling = N(div).next_sibling;
  if (prev >= 0) {
    N(prev).next_sibling = only;
  } else {
    N(parent).first_child = only;
  }
  if (N(parent).last_child == div) N(parent).last_child = only;
  N(div).parent = -1;
  N(div).first_child = N(div).last_child = N(div).next_sibling = -1;
  N(div).flags |= flag::kRemoved;
}

void Extractor::GroupInlineRuns(int32_t element) {
  std::vector<int32_t> children;
  for (int32_t c = N(element).first_child; c >= 0; c = N(c).next_sibling) children.push_back(c);
  std::vector<int32_t> rebuilt;
  rebuilt.reserve(children.size());
  size_t i = 0;
  while (i < children.size()) {
    const DomNode& c = N(children[i]);
    const bool inline_node =
        c.kind == NodeKind::kText || (c.flags & (flag::kBlock | flag::kHasBlock)) == 0;
    if (!inline_node) {
      rebuilt.push_back(children[i++]);
      continue;
    }
    size_t j = i;
    bool has_text = false;
    while (j < children.size()) {
      const DomNode& d = N(children[j]);
      const bool is_inline =
          d.kind == NodeKind::kText || (d.flags & (flag::kBlock | flag::kHasBlock)) == 0;
      if (!is_inline) break;
      if (d.kind == NodeKind::kText) {
        if ((d.flags & flag::kWhitespace) == 0) has_text = true;
      } else if (d.first_child >= 0 || d.tag == GUMBO_TAG_IMG) {
        has_text = true;
      }
      ++j;
    }
    if (!has_text) {
      for (size_t k = i; k < j; ++k) rebuilt.push_back(children[k]);
      i = j;
      continue;
    }
    DomNode paragraph;
    paragraph.kind = NodeKind::kParagraph;
    paragraph.tag = GUMBO_TAG_P;
    paragraph.parent = element;
    paragraph.flags = flag::kBlock;
    const int32_t p = static_cast<int32_t>(dom_.nodes().size());
    dom_.nodes().push_back(paragraph);
    for (size_t k = i; k < j; ++k) N(children[k]).parent = p;
    N(p).first_child = children[i];
    N(p).last_child = children[j - 1];
    for (size_t k = i; k + 1 < j; ++k) N(children[k]).next_sibling = children[k + 1];
    N(children[j - 1]).next_sibling = -1;
    rebuilt.push_back(p);
    i = j;
  }
  DomNode& e = N(element);
  e.first_child = rebuilt.empty() ? -1 : rebuilt.front();
  e.last_child = rebuilt.empty() ? -1 : rebuilt.back();
  for (size_t k = 0; k < rebuilt.size(); ++k) {
    N(rebuilt[k]).next_sibling = k + 1 < rebuilt.size() ? rebuilt[k + 1] : -1;
  }
}

void Extractor::ComputeOrder() {
  order_.clear();
  order_.reserve(dom_.nodes().size());
  if (dom_.nodes().empty()) return;
  std::vector<int32_t> stack = {0};
  while (!stack.empty()) {
    const int32_t i = stack.back();
    stack.pop_back();
    order_.push_back(i);
    const size_t mark = stack.size();
    for (int32_t c = N(i).first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
  }
}

void Extractor::MarkDataTables() {
  for (int32_t t : order_) {
    DomNode& table = N(t);
    if (table.kind != NodeKind::kElement || table.tag != GUMBO_TAG_TABLE) continue;
    if (table.role == "presentation") continue;
    bool data = false;
    bool nested = false;
    int rows = 0;
    int columns = 0;
    // Walk the table's own rows (nested tables are not entered).
    std::vector<int32_t> stack;
    for (int32_t c = table.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
    while (!stack.empty()) {
      const int32_t i = stack.back();
      stack.pop_back();
      const DomNode& n = N(i);
      if (n.kind != NodeKind::kElement) continue;
      switch (n.tag) {
        case GUMBO_TAG_TABLE:
          nested = true;
          continue;
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_THEAD:
        case GUMBO_TAG_TFOOT:
        case GUMBO_TAG_COLGROUP:
        case GUMBO_TAG_TH:
          if (n.first_child >= 0) data = true;
          break;
        case GUMBO_TAG_TR: {
          ++rows;
          int cells = 0;
          for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) {
            if (N(c).tag == GUMBO_TAG_TD || N(c).tag == GUMBO_TAG_TH) ++cells;
          }
          columns = std::max(columns, cells);
          break;
        }
        default:
          break;
      }
      for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
    }
    if (nested) continue;
    if (data || rows >= 10 || columns > 4 || rows * columns > 10) table.flags |= flag::kDataTable;
  }
}

int32_t Extractor::ClassWeight(int32_t i, const Attempt& attempt) const {
  if (!attempt.weight_classes) return 0;
  int32_t weight = 0;
  const uint16_t c = class_cat_[static_cast<size_t>(i)];
  const uint16_t d = id_cat_[static_cast<size_t>(i)];
  if (c & kNegative) weight -= 25;
  if (c & kPositive) weight += 25;
  if (d & kNegative) weight -= 25;
  if (d & kPositive) weight += 25;
  return weight;
}

void Extractor::Prune(const Attempt& attempt) {
  for (DomNode& n : dom_.nodes()) n.flags &= ~flag::kRemoved;
  bool byline_found = false;
  std::vector<int32_t> stack = {0};
  while (!stack.empty()) {
    const int32_t i = stack.back();
    stack.pop_back();
    DomNode& n = N(i);
    if (n.kind == NodeKind::kElement) {
      const uint16_t cats = class_cat_[static_cast<size_t>(i)] | id_cat_[static_cast<size_t>(i)];
      bool remove = false;
      if (!byline_found && (cats & kByline || n.rel == "author" ||
                            n.itemprop.find("author") != std::string_view::npos)) {
        int32_t chars = 0;
        // Bylines are short: measure without recursion into big subtrees.
        std::vector<int32_t> walk = {i};
        while (!walk.empty() && chars < 100) {
          const int32_t w = walk.back();
          walk.pop_back();
          chars += text_chars_[static_cast<size_t>(w)];
          for (int32_t c = N(w).first_child; c >= 0; c = N(c).next_sibling) walk.push_back(c);
        }
        if (chars > 0 && chars < 100) {
          remove = true;
          byline_found = true;
        }
      }
      if (attempt.strip_unlikely && !remove) {
        const std::string_view role = n.role;
        if (role == "menu" || role == "menubar" || role == "complementary" ||
            role == "navigation" || role == "alert" || role == "alertdialog" || role == "dialog") {
          remove = true;
        } else if ((cats & kUnlikely) && !(cats & kMaybe) && n.tag != GUMBO_TAG_BODY &&
                   (n.flags & (flag::kBlock | flag::kHasBlock)) != 0 && n.tag != GUMBO_TAG_A &&
                   n.tag != GUMBO_TAG_ARTICLE && n.tag != GUMBO_TAG_MAIN &&
                   (n.flags & (flag::kInTable | flag::kInCode)) == 0) {
          remove = true;
        }
      }
      if (n.tag == GUMBO_TAG_NAV || n.tag == GUMBO_TAG_ASIDE || n.tag == GUMBO_TAG_FOOTER) {
        remove = true;
      }
      if (!remove && !options_.keep_title_heading &&
          (n.tag == GUMBO_TAG_H1 || n.tag == GUMBO_TAG_H2) && !title_.empty()) {
        std::string heading;
        CollectText(i, &heading);
        // The share of the heading's words found in the title.
        size_t total = 0;
        size_t found = 0;
        size_t pos = 0;
        while (pos < heading.size()) {
          while (pos < heading.size() && !std::isalnum(static_cast<unsigned char>(heading[pos])) &&
                 static_cast<unsigned char>(heading[pos]) < 0x80) {
            ++pos;
          }
          size_t end = pos;
          while (end < heading.size() && (std::isalnum(static_cast<unsigned char>(heading[end])) ||
                                          static_cast<unsigned char>(heading[end]) >= 0x80)) {
            ++end;
          }
          if (end > pos) {
            const std::string_view word(heading.data() + pos, end - pos);
            total += word.size();
            if (title_.find(word) != std::string::npos) found += word.size();
          }
          pos = end;
        }
        if (total > 0 && found * 4 >= total * 3) remove = true;
      }
      if (remove) {
        n.flags |= flag::kRemoved;
        continue;
      }
    }
    for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
  }
  // Removal is inherited: mark the whole subtree so later passes need no ancestor walks.
  for (int32_t i : order_) {
    DomNode& n = N(i);
    if (n.parent >= 0 && (N(n.parent).flags & flag::kRemoved)) n.flags |= flag::kRemoved;
  }
}

void Extractor::Aggregate() {
  const size_t total = dom_.nodes().size();
  chars_.assign(total, 0);
  link_chars_.assign(total, 0);
  commas_.assign(total, 0);
  for (size_t k = order_.size(); k-- > 0;) {
    const int32_t i = order_[k];
    const DomNode& n = N(i);
    if (n.flags & flag::kRemoved) continue;
    const size_t u = static_cast<size_t>(i);
    if (n.kind == NodeKind::kText) {
      chars_[u] = text_chars_[u];
      commas_[u] = text_commas_[u];
    }
    if (n.kind == NodeKind::kElement && n.tag == GUMBO_TAG_A) {
      link_chars_[u] = chars_[u] * ((n.flags & flag::kHashLink) ? 0.3 : 1.0);
    }
    if (n.parent >= 0) {
      const size_t p = static_cast<size_t>(n.parent);
      chars_[p] += chars_[u];
      link_chars_[p] += link_chars_[u];
      commas_[p] += commas_[u];
    }
  }
}

void Extractor::Score(const Attempt& attempt) {
  const size_t total = dom_.nodes().size();
  score_.assign(total, 0);
  scored_.assign(total, 0);
  for (int32_t i : order_) {
    const DomNode& n = N(i);
    if (n.flags & flag::kRemoved) continue;
    bool scorable = IsParagraph(i);
    if (!scorable && n.kind == NodeKind::kElement) {
      scorable = n.tag == GUMBO_TAG_PRE || n.tag == GUMBO_TAG_TD ||
                 (n.tag >= GUMBO_TAG_H2 && n.tag <= GUMBO_TAG_H6) || n.tag == GUMBO_TAG_SECTION;
    }
    if (!scorable) continue;
    const double chars = chars_[static_cast<size_t>(i)];
    if (chars < 25 || n.parent < 0) continue;
    const double points =
        1 + commas_[static_cast<size_t>(i)] + std::min(std::floor(chars / 100), 3.0);
    int32_t ancestor = n.parent;
    for (int level = 0; level < 5 && ancestor >= 0; ++level) {
      const DomNode& a = N(ancestor);
      if (a.parent < 0) break;  // the root (html) is never a candidate
      const size_t u = static_cast<size_t>(ancestor);
      if (!scored_[u]) {
        scored_[u] = 1;
        double base = 0;
        if (a.kind == NodeKind::kElement) {
          switch (a.tag) {
            case GUMBO_TAG_DIV:
              base = 5;
              break;
            case GUMBO_TAG_PRE:
            case GUMBO_TAG_TD:
            case GUMBO_TAG_BLOCKQUOTE:
              base = 3;
              break;
            case GUMBO_TAG_ADDRESS:
            case GUMBO_TAG_OL:
            case GUMBO_TAG_UL:
            case GUMBO_TAG_DL:
            case GUMBO_TAG_DD:
            case GUMBO_TAG_DT:
            case GUMBO_TAG_LI:
            case GUMBO_TAG_FORM:
              base = -3;
              break;
            case GUMBO_TAG_H1:
            case GUMBO_TAG_H2:
            case GUMBO_TAG_H3:
            case GUMBO_TAG_H4:
            case GUMBO_TAG_H5:
            case GUMBO_TAG_H6:
            case GUMBO_TAG_TH:
              base = -5;
              break;
            default:
              break;
          }
          base += ClassWeight(ancestor, attempt);
        }
        score_[u] = base;
      }
      const double divider = level == 0 ? 1 : level == 1 ? 2 : level * 3;
      score_[u] += points / divider;
      ancestor = a.parent;
    }
  }
  for (size_t u = 0; u < total; ++u) {
    if (scored_[u]) score_[u] *= 1 - LinkDensity(static_cast<int32_t>(u));
  }
}

std::vector<int32_t> Extractor::Select(const Attempt& attempt) {
  const int32_t body = dom_.body();
  // The five best candidates, best first (ties: document order).
  std::vector<int32_t> top;
  for (int32_t i : order_) {
    if (!scored_[static_cast<size_t>(i)] || Removed(i)) continue;
    const double s = score_[static_cast<size_t>(i)];
    auto it = std::find_if(top.begin(), top.end(),
                           [&](int32_t t) { return s > score_[static_cast<size_t>(t)]; });
    if (it != top.end() || top.size() < 5) top.insert(it, i);
    if (top.size() > 5) top.pop_back();
  }
  auto score = [&](int32_t i) { return score_[static_cast<size_t>(i)]; };
  auto init = [&](int32_t i) {
    if (scored_[static_cast<size_t>(i)]) return;
    scored_[static_cast<size_t>(i)] = 1;
    score_[static_cast<size_t>(i)] = (N(i).tag == GUMBO_TAG_DIV ? 5 : 0) + ClassWeight(i, attempt);
  };
  int32_t best = top.empty() ? -1 : top.front();
  if (best < 0 || best == body) {
    return {body};  // no candidate: the whole body
  }
  // Runners-up that score nearly as well and share an ancestor with the best: take that ancestor.
  {
    std::vector<int32_t> close;
    for (size_t k = 1; k < top.size(); ++k) {
      if (score(top[k]) / score(best) >= 0.75) close.push_back(top[k]);
    }
    if (close.size() >= 3) {
      for (int32_t a = N(best).parent; a >= 0 && a != body; a = N(a).parent) {
        int holders = 0;
        for (int32_t c : close) {
          for (int32_t x = N(c).parent; x >= 0; x = N(x).parent) {
            if (x == a) {
              ++holders;
              break;
            }
          }
        }
        if (holders >= 3) {
          best = a;
          break;
        }
      }
    }
  }
  init(best);
  // A parent that scores at least as well takes over (the best was one part of it).
  {
    int32_t parent = N(best).parent;
    double last = score(best);
    const double threshold = last / 3;
    while (parent >= 0 && parent != body) {
      if (!scored_[static_cast<size_t>(parent)]) {
        parent = N(parent).parent;
        continue;
      }
      const double s = score(parent);
      if (s < threshold) break;
      if (s > last) {
        best = parent;
        break;
      }
      last = s;
      parent = N(parent).parent;
    }
  }
  // An only child stands for its parent.
  for (;;) {
    const int32_t parent = N(best).parent;
    if (parent < 0 || parent == body || N(parent).parent < 0) break;
    int elements = 0;
    for (int32_t c = N(parent).first_child; c >= 0; c = N(c).next_sibling) {
      if (N(c).kind != NodeKind::kText && !Removed(c)) ++elements;
    }
    if (elements != 1) break;
    best = parent;
  }
  init(best);
  // Siblings that belong to the article.
  const int32_t parent = N(best).parent;
  if (parent < 0) return {best};
  std::vector<int32_t> roots;
  const double threshold = std::max(10.0, score(best) * 0.2);
  for (int32_t s = N(parent).first_child; s >= 0; s = N(s).next_sibling) {
    if (Removed(s) || N(s).kind == NodeKind::kText) continue;
    if (s == best) {
      roots.push_back(s);
      continue;
    }
    double bonus = 0;
    if (!N(s).class_name.empty() && N(s).class_name == N(best).class_name) {
      bonus = score(best) * 0.2;
    }
    if (scored_[static_cast<size_t>(s)] && score(s) + bonus >= threshold) {
      roots.push_back(s);
      continue;
    }
    if (IsParagraph(s)) {
      const double chars = chars_[static_cast<size_t>(s)];
      const double density = LinkDensity(s);
      if (chars > 80 && density < 0.25) {
        roots.push_back(s);
      } else if (chars < 80 && chars > 0 && density == 0) {
        std::string text;
        CollectText(s, &text);
        const size_t dot = text.find('.');
        if (dot != std::string::npos && (dot + 1 == text.size() || text[dot + 1] == ' ')) {
          roots.push_back(s);
        }
      }
    }
  }
  return roots;
}

void Extractor::RemoveNode(int32_t i) {
  const size_t u = static_cast<size_t>(i);
  for (int32_t a = N(i).parent; a >= 0; a = N(a).parent) {
    const size_t v = static_cast<size_t>(a);
    chars_[v] -= chars_[u];
    link_chars_[v] -= link_chars_[u];
    commas_[v] -= commas_[u];
  }
  // Mark the subtree.
  std::vector<int32_t> stack = {i};
  while (!stack.empty()) {
    const int32_t w = stack.back();
    stack.pop_back();
    N(w).flags |= flag::kRemoved;
    for (int32_t c = N(w).first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
  }
}

bool Extractor::ShouldRemoveConditionally(int32_t i, const Attempt& attempt) {
  const DomNode& n = N(i);
  if (n.tag == GUMBO_TAG_TABLE && (n.flags & flag::kDataTable)) return false;
  if (n.flags & flag::kInCode) return false;
  // Inside a data table: kept with it.
  for (int32_t a = n.parent; a >= 0; a = N(a).parent) {
    if (N(a).tag == GUMBO_TAG_TABLE && (N(a).flags & flag::kDataTable)) return false;
  }
  const int32_t weight = ClassWeight(i, attempt);
  if (weight < 0) return true;
  if (commas_[static_cast<size_t>(i)] >= 10) return false;
  // Count what the block holds.
  int paragraphs = 0;
  int images = 0;
  int items = -100;
  double heading_chars = 0;
  double list_chars = 0;
  std::vector<int32_t> stack;
  for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
  while (!stack.empty()) {
    const int32_t w = stack.back();
    stack.pop_back();
    const DomNode& d = N(w);
    if (d.flags & flag::kRemoved) continue;
    if (d.kind == NodeKind::kText) continue;
    if (IsParagraph(w)) ++paragraphs;
    if (d.tag == GUMBO_TAG_IMG) ++images;
    if (d.tag == GUMBO_TAG_LI) ++items;
    if (IsHeading(d.tag) && d.kind == NodeKind::kElement) {
      heading_chars += chars_[static_cast<size_t>(w)];
      continue;
    }
    if ((d.tag == GUMBO_TAG_UL || d.tag == GUMBO_TAG_OL) && d.kind == NodeKind::kElement) {
      list_chars += chars_[static_cast<size_t>(w)];
    }
    for (int32_t c = d.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
  }
  const double chars = chars_[static_cast<size_t>(i)];
  const bool is_list =
      n.tag == GUMBO_TAG_UL || n.tag == GUMBO_TAG_OL || (chars > 0 && list_chars / chars > 0.9);
  const bool in_figure = (n.flags & flag::kInFigure) != 0;
  const double heading_density = chars > 0 ? heading_chars / chars : 0;
  const double link_density = LinkDensity(i);
  if (images > 1 && static_cast<double>(paragraphs) / images < 0.5 && !in_figure) return true;
  if (!is_list && items > paragraphs) return true;
  if (!is_list && heading_density < 0.9 && chars < 25 && (images == 0 || images > 2) &&
      !in_figure) {
    return true;
  }
  if (!is_list && weight < 25 && link_density > 0.2) return true;
  if (weight >= 25 && link_density > 0.5) return true;
  return false;
}

void Extractor::Clean(const std::vector<int32_t>& roots, const Attempt& attempt) {
  // Everything under the roots, in document order.
  std::vector<int32_t> inside;
  for (int32_t r : roots) {
    std::vector<int32_t> stack = {r};
    while (!stack.empty()) {
      const int32_t w = stack.back();
      stack.pop_back();
      if (Removed(w)) continue;
      inside.push_back(w);
      const size_t mark = stack.size();
      for (int32_t c = N(w).first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
      std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
    }
  }
  // Share widgets below the top level, forms, headings with negative words.
  for (int32_t w : inside) {
    if (Removed(w)) continue;
    const DomNode& n = N(w);
    if (n.kind != NodeKind::kElement) continue;
    const uint16_t cats = class_cat_[static_cast<size_t>(w)] | id_cat_[static_cast<size_t>(w)];
    const bool is_root = std::find(roots.begin(), roots.end(), w) != roots.end();
    if (!is_root && (cats & kShare) && chars_[static_cast<size_t>(w)] < 500) {
      RemoveNode(w);
    } else if (n.tag == GUMBO_TAG_FORM || n.tag == GUMBO_TAG_FIELDSET) {
      if (attempt.clean_conditionally && ShouldRemoveConditionally(w, attempt)) RemoveNode(w);
    } else if ((n.tag == GUMBO_TAG_H1 || n.tag == GUMBO_TAG_H2) && ClassWeight(w, attempt) < 0) {
      RemoveNode(w);
    }
  }
  if (!attempt.clean_conditionally) return;
  // Tables, then lists, then divs; innermost first, as removing inner blocks changes the counts
  // of outer ones.
  for (GumboTag tag : {GUMBO_TAG_TABLE, GUMBO_TAG_UL, GUMBO_TAG_DIV}) {
    for (size_t k = inside.size(); k-- > 0;) {
      const int32_t w = inside[k];
      if (Removed(w) || N(w).kind != NodeKind::kElement) continue;
      const GumboTag t = N(w).tag;
      const bool match =
          t == tag || (tag == GUMBO_TAG_UL && t == GUMBO_TAG_OL) ||
          (tag == GUMBO_TAG_DIV && (t == GUMBO_TAG_SECTION || t == GUMBO_TAG_HEADER ||
                                    (t == GUMBO_TAG_UNKNOWN && (N(w).flags & flag::kHasBlock))));
      if (match && ShouldRemoveConditionally(w, attempt)) RemoveNode(w);
    }
  }
}

void Extractor::CollectText(int32_t node, std::string* out) {
  LineWriter writer(out);
  std::vector<int32_t> stack = {node};
  while (!stack.empty()) {
    const int32_t w = stack.back();
    stack.pop_back();
    const DomNode& n = N(w);
    if (n.kind == NodeKind::kText) {
      writer.Text(n.text);
      continue;
    }
    writer.Text(" ");
    const size_t mark = stack.size();
    for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back(c);
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
  }
  writer.Finish();
}

void Extractor::WriteCells(int32_t row, LineWriter* writer) {
  bool first = true;
  for (int32_t c = N(row).first_child; c >= 0; c = N(c).next_sibling) {
    if (Removed(c) || N(c).kind == NodeKind::kText) continue;
    std::string cell;
    CollectText(c, &cell);
    for (char& ch : cell) {
      if (ch == '\n') ch = ' ';
    }
    if (cell.empty()) continue;
    if (!first) writer->Raw(" | ");
    writer->Raw(cell);
    first = false;
  }
  writer->EndLine();
}

void Extractor::Write(const std::vector<int32_t>& roots, std::string* out) {
  LineWriter writer(out);
  struct Frame {
    int32_t node;
    bool exit;
  };
  std::vector<Frame> stack;
  for (size_t k = roots.size(); k-- > 0;) stack.push_back({roots[k], false});
  int pre_depth = 0;
  while (!stack.empty()) {
    const Frame f = stack.back();
    stack.pop_back();
    const DomNode& n = N(f.node);
    if (f.exit) {
      if (n.tag == GUMBO_TAG_PRE && n.kind == NodeKind::kElement) --pre_depth;
      writer.EndLine();
      continue;
    }
    if (n.flags & flag::kRemoved) continue;
    if (n.kind == NodeKind::kText) {
      if (pre_depth > 0) {
        writer.Preformatted(n.text);
      } else {
        writer.Text(n.text);
      }
      continue;
    }
    if (n.kind == NodeKind::kElement) {
      if (n.tag == GUMBO_TAG_BR) {
        writer.EndLine();
        continue;
      }
      if (!options_.include_lists &&
          (n.tag == GUMBO_TAG_UL || n.tag == GUMBO_TAG_OL || n.tag == GUMBO_TAG_DL)) {
        continue;
      }
      if (n.tag == GUMBO_TAG_TABLE && (n.flags & flag::kDataTable) && !options_.include_tables) {
        continue;
      }
      if (n.tag == GUMBO_TAG_TR && n.parent >= 0) {
        // Rows of data tables: one line, cells joined by " | ".
        int32_t table = n.parent;
        while (table >= 0 && N(table).tag != GUMBO_TAG_TABLE) table = N(table).parent;
        if (table >= 0 && (N(table).flags & flag::kDataTable)) {
          writer.EndLine();
          WriteCells(f.node, &writer);
          continue;
        }
      }
    }
    const bool block = (n.flags & flag::kBlock) != 0;
    if (block) {
      writer.EndLine();
      if (n.tag == GUMBO_TAG_PRE && n.kind == NodeKind::kElement) ++pre_depth;
      stack.push_back({f.node, true});
    }
    const size_t mark = stack.size();
    for (int32_t c = n.first_child; c >= 0; c = N(c).next_sibling) stack.push_back({c, false});
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
  }
  writer.Finish();
}

std::string Extractor::RunAttempt(const Attempt& attempt) {
  Prune(attempt);
  Aggregate();
  Score(attempt);
  const std::vector<int32_t> roots = Select(attempt);
  Clean(roots, attempt);
  std::string text;
  Write(roots, &text);
  return text;
}

std::string Extractor::MainText(std::chrono::steady_clock::time_point deadline, bool* timed_out) {
  *timed_out = false;
  if (dom_.body() < 0) return {};
  static constexpr Attempt kAttempts[] = {
      {true, true, true},
      {false, true, true},
      {false, false, true},
      {false, false, false},
  };
  std::string best;
  size_t best_chars = 0;
  for (const Attempt& attempt : kAttempts) {
    std::string text = RunAttempt(attempt);
    int32_t chars = 0;
    int32_t commas = 0;
    MeasureText(text, &chars, &commas);
    if (static_cast<size_t>(chars) >= options_.min_text_chars) return text;
    if (static_cast<size_t>(chars) > best_chars || best.empty()) {
      best_chars = static_cast<size_t>(chars);
      best = std::move(text);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      *timed_out = true;
      break;
    }
  }
  return best;
}

std::string Extractor::AllText() {
  for (DomNode& n : dom_.nodes()) n.flags &= ~flag::kRemoved;
  std::string text;
  if (dom_.body() >= 0) Write({dom_.body()}, &text);
  return text;
}

// Does the payload look like markup at all (rather than binary data or plain text)?
bool LooksLikeHtml(std::string_view html) {
  const size_t probe = std::min<size_t>(html.size(), 4096);
  if (std::memchr(html.data(), '\0', probe) != nullptr) return false;
  const size_t scan = std::min<size_t>(html.size(), 65536);
  for (size_t i = 0; i + 1 < scan; ++i) {
    if (html[i] != '<') continue;
    const char c = html[i + 1];
    if (((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '!' || c == '/') return true;
  }
  return false;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

}  // namespace

Extraction ExtractMainText(std::string_view html, std::string_view url,
                           const ExtractOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(options.max_seconds));
  Extraction result;
  if (html.size() > options.max_html_bytes) {
    result.dropped_reason = "too_large";
    return result;
  }
  if (IsBlank(html)) {
    result.dropped_reason = "empty";
    return result;
  }
  if (!LooksLikeHtml(html)) {
    result.dropped_reason = "not_html";
    return result;
  }
  PrescanResult thin;
  std::string_view page = html;
  if (options.prescan) {
    PrescanOptions prescan_options;
    prescan_options.max_depth = options.max_nesting;
    thin = Prescan(html, prescan_options);
    if (thin.start_tags > options.max_nodes) {
      result.dropped_reason = "too_many_nodes";
      return result;
    }
    page = thin.html;
  }
  DomOptions dom_options;
  dom_options.max_nodes = options.max_nodes * 2 + 1024;  // elements and text nodes
  Dom dom(page, dom_options);
  if (dom.truncated()) {
    result.dropped_reason = "too_many_nodes";
    return result;
  }
  if (std::chrono::steady_clock::now() > deadline) {
    result.dropped_reason = "timeout";
    return result;
  }
  Extractor extractor(&dom, options);
  bool timed_out = false;
  result.text = extractor.MainText(deadline, &timed_out);
  {
    std::string_view title = dom.og_title().empty() ? dom.title() : dom.og_title();
    LineWriter writer(&result.title);
    writer.Text(title);
    writer.Finish();
  }
  if (timed_out && result.text.empty()) {
    result.dropped_reason = "timeout";
  } else if (result.text.empty()) {
    result.dropped_reason = "empty";
  }
  return result;
}

std::string ExtractAllText(std::string_view html) {
  PrescanResult thin = Prescan(html);
  Dom dom(thin.html, DomOptions());
  ExtractOptions options;
  Extractor extractor(&dom, options);
  return extractor.AllText();
}

}  // namespace winnow::pipeline
