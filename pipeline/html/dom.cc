// pipeline/html/dom.cc — see dom.h.
#include "pipeline/html/dom.h"

#include <algorithm>
#include <cstring>

namespace winnow::pipeline::html_internal {
namespace {

constexpr size_t kAlign = 16;
constexpr size_t kHeader = 16;  // each allocation is preceded by its rounded size
constexpr size_t kMinBlock = 64 * 1024;
constexpr size_t kMaxBlock = 4 * 1024 * 1024;

void* GumboAllocate(void* userdata, size_t size) {
  return static_cast<Arena*>(userdata)->Allocate(size);
}
void GumboFree(void* userdata, void* ptr) { static_cast<Arena*>(userdata)->Free(ptr); }

std::string_view Attr(const GumboElement& element, const char* name) {
  const GumboAttribute* attr = gumbo_get_attribute(&element.attributes, name);
  return attr == nullptr ? std::string_view() : std::string_view(attr->value);
}

bool ContainsCi(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() &&
           (haystack[i + j] | 0x20) == needle[j]) {  // needle is lower-case letters and ':'
      ++j;
    }
    if (j == needle.size()) return true;
  }
  return false;
}

// display:none / visibility:hidden in an inline style, whatever the spacing.
bool StyleHides(std::string_view style) {
  if (style.empty()) return false;
  char compact[256];
  size_t n = 0;
  for (char c : style) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (n == sizeof(compact)) break;
    compact[n++] = static_cast<char>((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
  }
  std::string_view s(compact, n);
  return s.find("display:none") != std::string_view::npos ||
         s.find("visibility:hidden") != std::string_view::npos;
}

bool IsHidden(const GumboElement& element) {
  if (element.attributes.length == 0) return false;
  if (gumbo_get_attribute(&element.attributes, "hidden") != nullptr) return true;
  std::string_view aria = Attr(element, "aria-hidden");
  if (aria == "true" && !ContainsCi(Attr(element, "class"), "fallback-image")) return true;
  return StyleHides(Attr(element, "style"));
}

bool IsWhitespace(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
  }
  return true;
}

}  // namespace

bool IsSkippedTag(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED:
    case GUMBO_TAG_APPLET:
    case GUMBO_TAG_PARAM:
    case GUMBO_TAG_INPUT:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_OPTION:
    case GUMBO_TAG_OPTGROUP:
    case GUMBO_TAG_DATALIST:
    case GUMBO_TAG_KEYGEN:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_VIDEO:
    case GUMBO_TAG_AUDIO:
    case GUMBO_TAG_SOURCE:
    case GUMBO_TAG_TRACK:
    case GUMBO_TAG_MAP:
    case GUMBO_TAG_AREA:
    case GUMBO_TAG_FRAME:
    case GUMBO_TAG_FRAMESET:
    case GUMBO_TAG_NOFRAMES:
    case GUMBO_TAG_NOEMBED:
    case GUMBO_TAG_LINK:
    case GUMBO_TAG_META:
    case GUMBO_TAG_BASE:
    case GUMBO_TAG_TITLE:
    case GUMBO_TAG_HEAD:
      return true;
    default:
      return false;
  }
}

bool IsBlockTag(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_DIR:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_H1:
    case GUMBO_TAG_H2:
    case GUMBO_TAG_H3:
    case GUMBO_TAG_H4:
    case GUMBO_TAG_H5:
    case GUMBO_TAG_H6:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_HGROUP:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_MENU:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_P:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_TBODY:
    case GUMBO_TAG_THEAD:
    case GUMBO_TAG_TFOOT:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_TD:
    case GUMBO_TAG_TH:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_LISTING:
    case GUMBO_TAG_PLAINTEXT:
    case GUMBO_TAG_XMP:
    case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_HTML:
      return true;
    default:
      return false;
  }
}

void* Arena::Allocate(size_t size) {
  const size_t need = kHeader + ((size + kAlign - 1) & ~(kAlign - 1));
  if (need > left_) {
    size_t block = std::clamp(reserved_, kMinBlock, kMaxBlock);
    block = std::max(block, need);
    blocks_.emplace_back(new char[block]);
    top_ = blocks_.back().get();
    left_ = block;
    reserved_ += block;
  }
  char* p = top_;
  std::memcpy(p, &need, sizeof(need));
  top_ += need;
  left_ -= need;
  return p + kHeader;
}

void Arena::Free(void* ptr) {
  if (ptr == nullptr) return;
  char* p = static_cast<char*>(ptr) - kHeader;
  size_t size;
  std::memcpy(&size, p, sizeof(size));
  if (p + size == top_) {  // the latest allocation: give it back
    top_ = p;
    left_ += size;
  }
}

Dom::Dom(std::string_view html, const DomOptions& options) {
  GumboOptions gumbo_options = kGumboDefaultOptions;
  gumbo_options.allocator = GumboAllocate;
  gumbo_options.deallocator = GumboFree;
  gumbo_options.userdata = &arena_;
  gumbo_options.max_errors = 0;  // do not record parse errors: we never read them
  output_ = gumbo_parse_with_options(&gumbo_options, html.data(), html.size());
  Copy(output_->root, options);
}

int32_t Dom::AddNode(const DomNode& node) {
  const int32_t index = static_cast<int32_t>(nodes_.size());
  nodes_.push_back(node);
  DomNode& added = nodes_.back();
  added.next_sibling = -1;
  if (added.parent >= 0) {
    DomNode& parent = nodes_[static_cast<size_t>(added.parent)];
    if (parent.last_child >= 0) {
      nodes_[static_cast<size_t>(parent.last_child)].next_sibling = index;
    } else {
      parent.first_child = index;
    }
    parent.last_child = index;
  }
  return index;
}

void Dom::Copy(const GumboNode* root, const DomOptions& options) {
  struct Pending {
    const GumboNode* node;
    int32_t parent;  // index in nodes_, or -1 for the root
  };
  std::vector<Pending> stack;
  stack.push_back({root, -1});
  nodes_.reserve(1024);
  while (!stack.empty()) {
    const Pending item = stack.back();
    stack.pop_back();
    const GumboNode* node = item.node;
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE ||
        node->type == GUMBO_NODE_CDATA) {
      if (item.parent < 0) continue;
      if (nodes_.size() >= options.max_nodes) {
        truncated_ = true;
        continue;
      }
      DomNode text;
      text.kind = NodeKind::kText;
      text.parent = item.parent;
      text.text = node->v.text.text;
      if (node->type == GUMBO_NODE_WHITESPACE || IsWhitespace(text.text)) {
        text.flags |= kWhitespace;
      }
      AddNode(text);
      continue;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE &&
        node->type != GUMBO_NODE_DOCUMENT) {
      continue;  // comments
    }
    int32_t self = item.parent;
    const GumboVector* children;
    if (node->type == GUMBO_NODE_DOCUMENT) {
      children = &node->v.document.children;
    } else {
      const GumboElement& element = node->v.element;
      const GumboTag tag = element.tag;
      if (tag == GUMBO_TAG_TITLE && title_.empty() && element.children.length > 0) {
        const GumboNode* child = static_cast<const GumboNode*>(element.children.data[0]);
        if (child->type == GUMBO_NODE_TEXT) title_ = child->v.text.text;
      } else if (tag == GUMBO_TAG_META && og_title_.empty()) {
        std::string_view property = Attr(element, "property");
        if (property.empty()) property = Attr(element, "name");
        if (property == "og:title" || property == "twitter:title") {
          og_title_ = Attr(element, "content");
        }
      }
      if (tag == GUMBO_TAG_HEAD) {
        // Keep walking the head for <title> and <meta>, but copy none of it.
        for (unsigned i = element.children.length; i-- > 0;) {
          const GumboNode* child = static_cast<const GumboNode*>(element.children.data[i]);
          if (child->type == GUMBO_NODE_ELEMENT) stack.push_back({child, -2});
        }
        continue;
      }
      if (item.parent == -2) {
        if (tag == GUMBO_TAG_NOSCRIPT) {
          for (unsigned i = element.children.length; i-- > 0;) {
            const GumboNode* child = static_cast<const GumboNode*>(element.children.data[i]);
            if (child->type == GUMBO_NODE_ELEMENT) stack.push_back({child, -2});
          }
        }
        continue;  // inside <head>
      }
      if (IsSkippedTag(tag) || IsHidden(element)) continue;
      if (nodes_.size() >= options.max_nodes) {
        truncated_ = true;
        continue;
      }
      DomNode copy;
      copy.tag = tag;
      copy.parent = item.parent;
      if (IsBlockTag(tag) && element.tag_namespace == GUMBO_NAMESPACE_HTML) copy.flags |= kBlock;
      if (element.attributes.length > 0) {
        copy.class_name = Attr(element, "class");
        copy.id = Attr(element, "id");
        copy.role = Attr(element, "role");
        copy.itemprop = Attr(element, "itemprop");
        copy.rel = Attr(element, "rel");
        if (tag == GUMBO_TAG_A) {
          std::string_view href = Attr(element, "href");
          if (!href.empty() && href[0] == '#') copy.flags |= kHashLink;
        }
      }
      self = AddNode(copy);
      if (tag == GUMBO_TAG_BODY && body_ < 0) body_ = self;
      children = &element.children;
    }
    for (unsigned i = children->length; i-- > 0;) {
      stack.push_back({static_cast<const GumboNode*>(children->data[i]), self});
    }
  }
  if (body_ < 0 && !nodes_.empty()) body_ = 0;
}

}  // namespace winnow::pipeline::html_internal
