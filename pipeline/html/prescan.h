// pipeline/html/prescan.h — a fast byte scanner that thins a page before the HTML parser sees it.
//
// Most bytes of a real page are scripts, styles, comments, inline SVG and tracking attributes;
// none of them carries article text, and the HTML parser is slow on all of them. Prescan follows
// the HTML tokenizer's rules (script data and its escaped states, raw text and RCDATA elements,
// quoted attribute values, unclosed comments, CDATA in SVG, foreign-content break-out tags) so
// that the text a parser would find in the thinned page is the text it would find in the original
// page, minus the removed elements.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace winnow::pipeline {

struct PrescanOptions {
  bool drop_svg = true;             // remove inline <svg>…</svg> (icons, charts: no article text)
  bool strip_attributes = true;     // keep only attributes extraction reads (class, id, style, …)
  bool collapse_whitespace = true;  // outside <pre>, a whitespace run becomes one character
  size_t max_attribute_value = 512;  // a kept <meta content> value is cut to this many bytes
  size_t max_depth = 512;            // start tags nested deeper than this are dropped (text kept)
};

struct PrescanResult {
  std::string html;         // the thinned page
  size_t start_tags = 0;    // start tags kept: an upper bound on the parser's element count
  size_t dropped_tags = 0;  // start tags dropped for nesting deeper than max_depth
};

// Removes the bodies of script, style, noscript, template, iframe, noembed, noframes and (option)
// svg elements, every comment and processing instruction, and (option) every attribute the
// extractor does not read. `html` is UTF-8; the result is a valid input for any HTML5 parser.
PrescanResult Prescan(std::string_view html, const PrescanOptions& options = {});

}  // namespace winnow::pipeline
