// pipeline/html/dom.h — internal to the extractor: a compact, flat copy of gumbo's tree.
//
// Gumbo allocates into an arena that lives as long as the Dom (text and attribute views point
// into it), so no tree is ever freed node by node and no walk recurses: a page nested 100,000
// elements deep costs memory, not stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "gumbo.h"

namespace winnow::pipeline::html_internal {

enum class NodeKind : uint8_t {
  kElement,    // an element kept from the page
  kText,       // a text node (whitespace-only text nodes too: they separate words)
  kParagraph,  // a synthetic paragraph grouping a run of inline children of a block container
};

// Bits of DomNode::flags.
enum NodeFlag : uint32_t {
  kBlock = 1u << 0,          // a block-level tag (div, p, li, table parts, headings, …)
  kHasBlock = 1u << 1,       // the subtree below holds a block-level element
  kWhitespace = 1u << 2,     // a text node of whitespace only
  kHashLink = 1u << 3,       // <a href="#…">: counted as a light link
  kParagraphLike = 1u << 4,  // a container with inline content only: scored as a paragraph
  kRemoved = 1u << 5,        // dropped by a cleaning step (the subtree with it)
  kDataTable = 1u << 6,      // a table holding data rather than layout
  kInCode = 1u << 7,         // inside pre/code
  kInTable = 1u << 8,        // inside a table
  kInFigure = 1u << 9,       // inside a figure
};

struct DomNode {
  int32_t parent = -1;
  int32_t first_child = -1;
  int32_t last_child = -1;
  int32_t next_sibling = -1;
  GumboTag tag = GUMBO_TAG_UNKNOWN;
  NodeKind kind = NodeKind::kElement;
  uint32_t flags = 0;
  std::string_view text;        // text nodes: the decoded text
  std::string_view class_name;  // elements: the class attribute
  std::string_view id;          // elements: the id attribute
  std::string_view role;        // elements: the role attribute
  std::string_view itemprop;    // elements: the itemprop attribute
  std::string_view rel;         // elements: the rel attribute
};

struct DomOptions {
  size_t max_nodes = 200000;  // stop copying after this many nodes (Dom::truncated() is then set)
};

// A bump allocator for gumbo: frees are no-ops except for the most recent allocation.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* Allocate(size_t size);
  void Free(void* ptr);
  size_t bytes_reserved() const { return reserved_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* top_ = nullptr;
  size_t left_ = 0;
  size_t reserved_ = 0;
};

// The page's tree, hidden and non-content elements (script, style, form controls, media, …)
// already left out, plus what the <head> says about the title.
class Dom {
 public:
  // Parses `html` (UTF-8) with gumbo into the arena and copies the tree.
  Dom(std::string_view html, const DomOptions& options);
  Dom(const Dom&) = delete;
  Dom& operator=(const Dom&) = delete;

  std::vector<DomNode>& nodes() { return nodes_; }
  const std::vector<DomNode>& nodes() const { return nodes_; }
  int32_t body() const { return body_; }  // the <body> element (or the root), -1 when empty
  std::string_view title() const { return title_; }        // text of <title>
  std::string_view og_title() const { return og_title_; }  // content of og:title / twitter:title
  bool truncated() const { return truncated_; }            // max_nodes was reached

  // Appends a synthetic node as the last child of `parent` and returns its index.
  int32_t AddNode(const DomNode& node);

 private:
  void Copy(const GumboNode* root, const DomOptions& options);

  Arena arena_;
  GumboOutput* output_ = nullptr;  // lives in arena_
  std::vector<DomNode> nodes_;
  int32_t body_ = -1;
  std::string_view title_;
  std::string_view og_title_;
  bool truncated_ = false;
};

// Tags whose content never belongs to the text (scripts, styles, media, form controls, …).
bool IsSkippedTag(GumboTag tag);
// Block-level tags: they start a new line of output.
bool IsBlockTag(GumboTag tag);

}  // namespace winnow::pipeline::html_internal
