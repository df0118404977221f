// pipeline/html/extractor.h — the main text of a web page: the article, without navigation,
// headers and footers, sidebars, comments, share widgets, cookie banners, scripts or styles.
//
//   Extraction e = ExtractMainText(html, url);
//   if (!e.dropped_reason.empty()) stats.Add("extract/dropped/" + e.dropped_reason);
//
// The page is thinned by Prescan (prescan.h), parsed with gumbo, and the subtree with the
// densest, least linked paragraph text is kept with its related siblings, then cleaned of
// link lists, forms and other non-prose blocks. Output is deterministic for a given input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace winnow::pipeline {

struct ExtractOptions {
  size_t max_html_bytes = 5 << 20;  // larger pages are dropped as "too_large"
  size_t max_nodes = 200000;        // pages with more start tags are dropped, "too_many_nodes"
  double max_seconds = 2.0;         // wall-clock budget per page; past it, "timeout"
  bool include_tables = true;       // emit data tables, one row per line, cells joined " | "
  bool include_lists = true;        // emit list items (one per line) inside the content
  bool prescan = true;              // thin the page before parsing (same text, faster)
  size_t min_text_chars = 500;      // shorter results trigger a retry with gentler cleaning
  bool keep_title_heading = false;  // keep a heading that repeats the page title
  size_t max_nesting = 512;         // start tags nested deeper are ignored (text is kept)
};

struct Extraction {
  std::string text;            // main text, UTF-8: one block (heading, paragraph, list item,
                               // table row) per line
  std::string title;           // og:title, else <title>
  std::string dropped_reason;  // empty on success; else "empty", "too_large", "timeout",
                               // "too_many_nodes", "not_html"
};

// The main text of `html` (UTF-8). `url` is the page's address (may be empty); it is not
// fetched.
Extraction ExtractMainText(std::string_view html, std::string_view url,
                           const ExtractOptions& options = {});

// All visible text of `html` (no main-content selection, scripts/styles/hidden nodes dropped),
// one block per line. For scoring against reference extractions and for short fragments.
std::string ExtractAllText(std::string_view html);

}  // namespace winnow::pipeline
