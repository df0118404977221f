// pipeline/html/prescan.cc — see prescan.h. A single forward pass; every loop advances.
#include "pipeline/html/prescan.h"

#include <cstring>
#include <initializer_list>
#include <iterator>

namespace winnow::pipeline {
namespace {

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
inline bool IsAlpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }

// Does s[pos..] start with `lit` (given in lower case), ignoring ASCII case?
bool StartsWithCi(std::string_view s, size_t pos, std::string_view lit) {
  if (pos + lit.size() > s.size()) return false;
  for (size_t i = 0; i < lit.size(); ++i) {
    if (Lower(s[pos + i]) != lit[i]) return false;
  }
  return true;
}

// A lower-cased tag or attribute name, truncated: long names match none of the names we test.
struct Name {
  char buf[16];
  size_t len = 0;
  bool truncated = false;

  void Set(std::string_view raw) {
    truncated = raw.size() > sizeof(buf);
    len = truncated ? 0 : raw.size();
    for (size_t i = 0; i < len; ++i) buf[i] = Lower(raw[i]);
  }
  bool Is(std::string_view lit) const {
    return !truncated && len == lit.size() && std::memcmp(buf, lit.data(), len) == 0;
  }
  bool In(std::initializer_list<std::string_view> lits) const {
    for (std::string_view lit : lits) {
      if (Is(lit)) return true;
    }
    return false;
  }
};

struct Attribute {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

// One tokenized tag, from '<' to just past its '>'.
struct Tag {
  Name name;
  std::string_view raw_name;
  bool end_tag = false;
  bool self_closing = false;
  bool terminated = false;  // false: the page ended inside the tag (the tokenizer drops it)
  size_t end = 0;           // just past '>'
  Attribute attrs[24];      // the first attributes; the rest are scanned but not kept
  size_t num_attrs = 0;
};

// Tokenizes the tag whose '<' is at `pos`; s[pos+1] (or s[pos+2] for an end tag) is a letter.
void ParseTag(std::string_view s, size_t pos, bool end_tag, Tag* tag) {
  const size_t n = s.size();
  size_t i = pos + (end_tag ? 2 : 1);
  const size_t name_start = i;
  while (i < n && !IsSpace(s[i]) && s[i] != '/' && s[i] != '>') ++i;
  tag->raw_name = s.substr(name_start, i - name_start);
  tag->name.Set(tag->raw_name);
  tag->end_tag = end_tag;
  tag->self_closing = false;
  tag->terminated = false;
  tag->num_attrs = 0;
  while (i < n) {
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n) break;
    if (s[i] == '>') {
      tag->terminated = true;
      ++i;
      break;
    }
    if (s[i] == '/') {
      if (i + 1 < n && s[i + 1] == '>') {
        tag->self_closing = true;
        tag->terminated = true;
        i += 2;
        break;
      }
      ++i;
      continue;
    }
    // Attribute name; a leading '=' belongs to the name.
    const size_t attr_start = i++;
    while (i < n && !IsSpace(s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=') ++i;
    Attribute attr;
    attr.name = s.substr(attr_start, i - attr_start);
    size_t j = i;
    while (j < n && IsSpace(s[j])) ++j;
    if (j < n && s[j] == '=') {
      i = j + 1;
      while (i < n && IsSpace(s[i])) ++i;
      attr.has_value = true;
      if (i < n && (s[i] == '"' || s[i] == '\'')) {
        const char* close =
            static_cast<const char*>(std::memchr(s.data() + i + 1, s[i], n - i - 1));
        if (close == nullptr) {
          i = n;
          break;
        }
        const size_t close_pos = static_cast<size_t>(close - s.data());
        attr.value = s.substr(i + 1, close_pos - i - 1);
        i = close_pos + 1;
      } else {
        const size_t value_start = i;
        while (i < n && !IsSpace(s[i]) && s[i] != '>') ++i;
        attr.value = s.substr(value_start, i - value_start);
      }
    }
    if (tag->num_attrs < std::size(tag->attrs)) tag->attrs[tag->num_attrs++] = attr;
  }
  tag->end = i;
}

// Is s[pos..] "</name" followed by whitespace, '/' or '>' (an end tag that closes raw text)?
bool IsClosingTag(std::string_view s, size_t pos, std::string_view name) {
  if (pos + 2 + name.size() >= s.size() || s[pos] != '<' || s[pos + 1] != '/') return false;
  if (!StartsWithCi(s, pos + 2, name)) return false;
  const char c = s[pos + 2 + name.size()];
  return IsSpace(c) || c == '/' || c == '>';
}

// Position just past the end tag `</name…>` that closes raw text starting at `pos`, or s.size().
// Returns in *tag_start where that end tag begins (s.size() when there is none).
size_t SkipRawText(std::string_view s, size_t pos, std::string_view name, size_t* tag_start) {
  const size_t n = s.size();
  while (pos < n) {
    const char* lt = static_cast<const char*>(std::memchr(s.data() + pos, '<', n - pos));
    if (lt == nullptr) break;
    pos = static_cast<size_t>(lt - s.data());
    if (IsClosingTag(s, pos, name)) {
      *tag_start = pos;
      Tag tag;
      ParseTag(s, pos, /*end_tag=*/true, &tag);
      return tag.end;
    }
    ++pos;
  }
  *tag_start = n;
  return n;
}

// Position just past the `</script…>` that ends script data starting at `pos`, following the
// tokenizer's script data, escaped and double-escaped states (`<!--` … `<script>` … `-->`).
size_t SkipScriptData(std::string_view s, size_t pos) {
  const size_t n = s.size();
  enum { kData, kEscaped, kDoubleEscaped } state = kData;
  while (pos < n) {
    if (state == kData) {
      const char* lt = static_cast<const char*>(std::memchr(s.data() + pos, '<', n - pos));
      if (lt == nullptr) return n;
      pos = static_cast<size_t>(lt - s.data());
      if (IsClosingTag(s, pos, "script")) {
        Tag tag;
        ParseTag(s, pos, /*end_tag=*/true, &tag);
        return tag.end;
      }
      if (pos + 3 < n && s[pos + 1] == '!' && s[pos + 2] == '-' && s[pos + 3] == '-') {
        state = kEscaped;
        pos += 4;
        // "<!--" leaves the tokenizer in the escaped dash-dash state: "-->" or "<!-->" ends it.
        while (pos < n && s[pos] == '-') ++pos;
        if (pos < n && s[pos] == '>') {
          state = kData;
          ++pos;
        }
        continue;
      }
      ++pos;
      continue;
    }
    const char c = s[pos];
    if (c == '-' && pos + 2 < n && s[pos + 1] == '-') {
      size_t j = pos + 1;
      while (j < n && s[j] == '-') ++j;
      if (j < n && s[j] == '>') {
        state = kData;
        pos = j + 1;
        continue;
      }
      pos = j;
      continue;
    }
    if (c == '<') {
      if (state == kEscaped) {
        if (IsClosingTag(s, pos, "script")) {
          Tag tag;
          ParseTag(s, pos, /*end_tag=*/true, &tag);
          return tag.end;
        }
        if (pos + 7 < n && StartsWithCi(s, pos + 1, "script")) {
          const char d = s[pos + 7];
          if (IsSpace(d) || d == '/' || d == '>') state = kDoubleEscaped;
        }
      } else if (IsClosingTag(s, pos, "script")) {  // double escaped: back to escaped
        state = kEscaped;
        pos += 8;
        continue;
      }
    }
    ++pos;
  }
  return n;
}

// Position just past the comment whose "<!--" is at `pos` (the page's end when unclosed).
size_t SkipComment(std::string_view s, size_t pos) {
  const size_t n = s.size();
  size_t i = pos + 4;
  if (i < n && s[i] == '>') return i + 1;                         // <!-->
  if (i + 1 < n && s[i] == '-' && s[i + 1] == '>') return i + 2;  // <!--->
  while (i < n) {
    const char* dash = static_cast<const char*>(std::memchr(s.data() + i, '-', n - i));
    if (dash == nullptr) return n;
    i = static_cast<size_t>(dash - s.data());
    if (i + 2 < n && s[i + 1] == '-' && s[i + 2] == '>') return i + 3;                     // -->
    if (i + 3 < n && s[i + 1] == '-' && s[i + 2] == '!' && s[i + 3] == '>') return i + 4;  // --!>
    ++i;
  }
  return n;
}

// Position just past the first '>' at or after `pos` (bogus comments, doctypes), or s.size().
size_t SkipToGt(std::string_view s, size_t pos) {
  const char* gt = static_cast<const char*>(std::memchr(s.data() + pos, '>', s.size() - pos));
  return gt == nullptr ? s.size() : static_cast<size_t>(gt - s.data()) + 1;
}

// Could an inline style hide the element (display:none, visibility:hidden)?
bool MayHide(std::string_view style) {
  for (size_t i = 0; i + 4 <= style.size(); ++i) {
    if (StartsWithCi(style, i, "none") || StartsWithCi(style, i, "hidden")) return true;
  }
  return false;
}

// Start tags that end foreign (SVG) content outside an integration point.
bool BreaksOutOfForeignContent(const Tag& tag) {
  if (tag.name.In({"b",       "big",   "blockquote", "body",   "br",     "center", "code", "dd",
                   "div",     "dl",    "dt",         "em",     "embed",  "h1",     "h2",   "h3",
                   "h4",      "h5",    "h6",         "head",   "hr",     "i",      "img",  "li",
                   "listing", "menu",  "meta",       "nobr",   "ol",     "p",      "pre",  "ruby",
                   "s",       "small", "span",       "strong", "strike", "sub",    "sup",  "table",
                   "tt",      "u",     "ul",         "var"})) {
    return true;
  }
  if (tag.name.Is("font")) {
    for (size_t a = 0; a < tag.num_attrs; ++a) {
      Name attr;
      attr.Set(tag.attrs[a].name);
      if (attr.In({"color", "face", "size"})) return true;
    }
  }
  return false;
}

// Elements that never hold children or whose end tag is optional: they do not count as nesting.
bool IsVoidOrOptionalEnd(const Name& name) {
  return name.In({"area",     "base",  "br",    "col",    "embed", "hr",    "img",    "input",
                  "link",     "meta",  "param", "source", "track", "wbr",   "keygen", "basefont",
                  "bgsound",  "frame", "image", "p",      "li",    "dt",    "dd",     "option",
                  "optgroup", "tr",    "td",    "th",     "tbody", "thead", "tfoot",  "colgroup",
                  "caption",  "rb",    "rt",    "rtc",    "rp",    "html",  "head",   "body"});
}

class Scanner {
 public:
  Scanner(std::string_view s, const PrescanOptions& options, PrescanResult* result)
      : s_(s), options_(options), result_(result), out_(&result->html) {}

  void Run() {
    out_->reserve(s_.size() / 2 + 64);
    size_t pos = 0;
    const size_t n = s_.size();
    while (pos < n) {
      const char* lt = static_cast<const char*>(std::memchr(s_.data() + pos, '<', n - pos));
      const size_t next = lt == nullptr ? n : static_cast<size_t>(lt - s_.data());
      AppendText(s_.substr(pos, next - pos));
      if (next >= n) break;
      pos = Markup(next);
    }
  }

 private:
  // Handles the markup starting with '<' at `pos`; returns where scanning resumes.
  size_t Markup(size_t pos) {
    const size_t n = s_.size();
    const char c = pos + 1 < n ? s_[pos + 1] : '\0';
    if (c == '!') {
      if (pos + 3 < n && s_[pos + 2] == '-' && s_[pos + 3] == '-') return SkipComment(s_, pos);
      const size_t end = SkipToGt(s_, pos);  // doctype, CDATA or bogus comment: keep as is
      out_->append(s_.data() + pos, end - pos);
      return end;
    }
    if (c == '?') return SkipToGt(s_, pos);  // processing instruction: a bogus comment
    if (c == '/') {
      const char d = pos + 2 < n ? s_[pos + 2] : '\0';
      if (d == '>') return pos + 3;               // "</>" is ignored
      if (!IsAlpha(d)) return SkipToGt(s_, pos);  // bogus comment
      Tag tag;
      ParseTag(s_, pos, /*end_tag=*/true, &tag);
      if (!tag.terminated) return n;
      if (tag.name.In({"pre", "listing"}) && pre_depth_ > 0) --pre_depth_;
      if (!IsVoidOrOptionalEnd(tag.name)) {
        if (suppressed_ > 0) {
          --suppressed_;
          return tag.end;
        }
        if (depth_ > 0) --depth_;
      }
      out_->push_back('<');
      out_->push_back('/');
      out_->append(tag.raw_name);
      out_->push_back('>');
      return tag.end;
    }
    if (!IsAlpha(c)) {
      out_->push_back('<');  // a literal '<' in text
      return pos + 1;
    }
    Tag tag;
    ParseTag(s_, pos, /*end_tag=*/false, &tag);
    if (!tag.terminated) return n;
    const Name& name = tag.name;
    if (name.Is("script")) return SkipScriptData(s_, tag.end);
    size_t unused;
    if (name.In({"style", "noscript", "iframe", "noembed", "noframes"})) {
      return SkipRawText(s_, tag.end, std::string_view(name.buf, name.len), &unused);
    }
    if (name.Is("template")) return SkipTemplate(tag.end);
    if (name.Is("svg") && options_.drop_svg) {
      return tag.self_closing ? tag.end : SkipSvg(tag.end);
    }
    // A start tag we keep.
    const bool counts = !IsVoidOrOptionalEnd(name);
    if (counts && depth_ >= options_.max_depth) {
      ++suppressed_;
      ++result_->dropped_tags;
      return tag.end;
    }
    if (counts) ++depth_;
    if (name.In({"pre", "listing"})) ++pre_depth_;
    ++result_->start_tags;
    EmitStartTag(pos, tag);
    if (name.In({"title", "textarea", "xmp"})) {  // RCDATA / raw text: copy through verbatim
      size_t close_start;
      const size_t end =
          SkipRawText(s_, tag.end, std::string_view(name.buf, name.len), &close_start);
      out_->append(s_.data() + tag.end, close_start - tag.end);
      if (close_start < n) {
        out_->append("</");
        out_->append(name.buf, name.len);
        out_->push_back('>');
      }
      if (counts && depth_ > 0) --depth_;
      return end;
    }
    if (name.Is("plaintext")) {  // everything after it is text
      out_->append(s_.data() + tag.end, n - tag.end);
      return n;
    }
    return tag.end;
  }

  // Copies text; outside <pre> every whitespace run becomes one character (a newline when the run
  // holds one), which changes no word and no parse: only whitespace-only stays whitespace-only.
  void AppendText(std::string_view text) {
    if (pre_depth_ > 0 || !options_.collapse_whitespace) {
      out_->append(text);
      return;
    }
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
      size_t j = i;
      while (j < n && !IsSpace(text[j])) ++j;
      out_->append(text.data() + i, j - i);
      if (j >= n) break;
      size_t k = j;
      bool newline = false;
      while (k < n && IsSpace(text[k])) {
        newline = newline || text[k] == '\n';
        ++k;
      }
      out_->push_back(newline ? '\n' : text[j]);
      i = k;
    }
  }

  void EmitStartTag(size_t pos, const Tag& tag) {
    if (!options_.strip_attributes) {
      out_->append(s_.data() + pos, tag.end - pos);
      return;
    }
    out_->push_back('<');
    out_->append(tag.raw_name);
    for (size_t a = 0; a < tag.num_attrs; ++a) {
      const Attribute& attr = tag.attrs[a];
      Name name;
      name.Set(attr.name);
      std::string_view value = attr.value;
      if (name.Is("href")) {
        // Only "is it a link within the page" matters.
        value = !value.empty() && value[0] == '#' ? "#" : "x";
      } else if (name.Is("style")) {
        if (!MayHide(value)) continue;
      } else if (name.In({"content", "name", "property"})) {
        if (!tag.name.Is("meta")) continue;
        if (value.size() > options_.max_attribute_value) {
          value = value.substr(0, options_.max_attribute_value);
        }
      } else if (!name.In({"class", "id", "hidden", "aria-hidden", "role", "itemprop", "rel",
                           "type", "encoding", "color", "face", "size", "colspan"})) {
        continue;
      }
      out_->push_back(' ');
      out_->append(attr.name);
      if (!attr.has_value) continue;
      const bool has_double = value.find('"') != std::string_view::npos;
      const bool has_single = value.find('\'') != std::string_view::npos;
      const char quote = has_double && !has_single ? '\'' : '"';
      out_->push_back('=');
      out_->push_back(quote);
      if (has_double && has_single) {
        for (char ch : value) {
          if (ch == '"') {
            out_->append("&quot;");
          } else {
            out_->push_back(ch);
          }
        }
      } else {
        out_->append(value);
      }
      out_->push_back(quote);
    }
    if (tag.self_closing) out_->push_back('/');
    out_->push_back('>');
  }

  // Skips a template's contents (HTML markup, templates nest); returns the position after its end.
  size_t SkipTemplate(size_t pos) {
    const size_t n = s_.size();
    int depth = 1;
    while (pos < n) {
      const char* lt = static_cast<const char*>(std::memchr(s_.data() + pos, '<', n - pos));
      if (lt == nullptr) return n;
      pos = static_cast<size_t>(lt - s_.data());
      const char c = pos + 1 < n ? s_[pos + 1] : '\0';
      if (c == '!' && pos + 3 < n && s_[pos + 2] == '-' && s_[pos + 3] == '-') {
        pos = SkipComment(s_, pos);
      } else if (c == '/' && pos + 2 < n && IsAlpha(s_[pos + 2])) {
        Tag tag;
        ParseTag(s_, pos, /*end_tag=*/true, &tag);
        pos = tag.end;
        if (tag.name.Is("template") && --depth == 0) return pos;
      } else if (IsAlpha(c)) {
        Tag tag;
        ParseTag(s_, pos, /*end_tag=*/false, &tag);
        pos = tag.end;
        size_t unused;
        if (tag.name.Is("template")) {
          ++depth;
        } else if (tag.name.Is("script")) {
          pos = SkipScriptData(s_, pos);
        } else if (tag.name.In({"style", "noscript", "iframe", "noembed", "noframes", "title",
                                "textarea", "xmp"})) {
          pos = SkipRawText(s_, pos, std::string_view(tag.name.buf, tag.name.len), &unused);
        } else if (tag.name.Is("plaintext")) {
          return n;
        }
      } else {
        ++pos;
      }
    }
    return n;
  }

  // Skips SVG (foreign) content after `<svg>`. Returns the position after the matching `</svg>`,
  // or the position of a start tag that breaks out of foreign content (the parser closes the SVG
  // there and goes on as HTML).
  size_t SkipSvg(size_t pos) {
    const size_t n = s_.size();
    int depth = 1;
    int integration = 0;  // open foreignObject/desc/title elements: HTML rules apply inside
    while (pos < n) {
      const char* lt = static_cast<const char*>(std::memchr(s_.data() + pos, '<', n - pos));
      if (lt == nullptr) return n;
      pos = static_cast<size_t>(lt - s_.data());
      const char c = pos + 1 < n ? s_[pos + 1] : '\0';
      if (c == '!') {
        if (pos + 3 < n && s_[pos + 2] == '-' && s_[pos + 3] == '-') {
          pos = SkipComment(s_, pos);
        } else if (integration == 0 && StartsWithCi(s_, pos + 2, "[cdata[")) {
          const size_t end = s_.find("]]>", pos + 9);
          pos = end == std::string_view::npos ? n : end + 3;
        } else {
          pos = SkipToGt(s_, pos);
        }
      } else if (c == '/' && pos + 2 < n && IsAlpha(s_[pos + 2])) {
        Tag tag;
        ParseTag(s_, pos, /*end_tag=*/true, &tag);
        pos = tag.end;
        if (tag.name.Is("svg") && --depth == 0) return pos;
        if (integration > 0 && tag.name.In({"foreignobject", "desc", "title"})) --integration;
      } else if (IsAlpha(c)) {
        Tag tag;
        ParseTag(s_, pos, /*end_tag=*/false, &tag);
        if (integration == 0 && BreaksOutOfForeignContent(tag)) return pos;
        pos = tag.end;
        if (tag.self_closing) continue;
        size_t unused;
        if (tag.name.Is("svg")) {
          ++depth;
        } else if (tag.name.In({"foreignobject", "desc", "title"})) {
          ++integration;
        } else if (integration > 0 && tag.name.Is("script")) {
          pos = SkipScriptData(s_, pos);
        } else if (integration > 0 && tag.name.In({"style", "textarea", "xmp", "iframe", "noembed",
                                                   "noframes", "noscript"})) {
          pos = SkipRawText(s_, pos, std::string_view(tag.name.buf, tag.name.len), &unused);
        }
      } else {
        ++pos;
      }
    }
    return n;
  }

  std::string_view s_;
  const PrescanOptions& options_;
  PrescanResult* result_;
  std::string* out_;
  size_t depth_ = 0;       // open elements that count as nesting
  size_t suppressed_ = 0;  // start tags dropped for depth whose end tags are still to come
  size_t pre_depth_ = 0;   // open <pre>/<listing> elements: whitespace is kept inside
};

}  // namespace

PrescanResult Prescan(std::string_view html, const PrescanOptions& options) {
  PrescanResult result;
  Scanner(html, options, &result).Run();
  return result;
}

}  // namespace winnow::pipeline
