#include "trainer/tokenizer/pretokenizer.h"

#include <unicode/uchar.h>

#include <array>
#include <cstdint>

namespace winnow::trainer {
namespace {

// Character classes, as bit flags.
enum : uint8_t {
  kLetter = 1,   // \p{L}
  kNumber = 2,   // \p{N}
  kSpace = 4,    // \s (White_Space)
  kUpper = 8,    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kLower = 16,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  kNewline = 32  // \r or \n
};

uint8_t ClassifySlow(uint32_t cp) {
  uint8_t c = 0;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_TITLECASE_LETTER:
      c = kLetter | kUpper;
      break;
    case U_LOWERCASE_LETTER:
      c = kLetter | kLower;
      break;
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      c = kLetter | kUpper | kLower;
      break;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      c = kUpper | kLower;
      break;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      c = kNumber;
      break;
    default:
      break;
  }
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) c |= kSpace;
  if (cp == '\r' || cp == '\n') c |= kNewline;
  return c;
}

const std::array<uint8_t, 128>& AsciiClasses() {
  static const std::array<uint8_t, 128> table = [] {
    std::array<uint8_t, 128> t{};
    for (uint32_t cp = 0; cp < 128; ++cp) t[cp] = ClassifySlow(cp);
    return t;
  }();
  return table;
}

struct Char {
  uint32_t cp;      // code point; 0xFFFFFFFF for an invalid byte
  uint32_t offset;  // byte offset in the text
  uint8_t cls;
};

// Decodes UTF-8; an invalid or truncated sequence yields one invalid char per byte.
void Decode(std::string_view text, std::vector<Char>* out) {
  const auto& ascii = AsciiClasses();
  out->clear();
  out->reserve(text.size() + 1);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      out->push_back({b, static_cast<uint32_t>(i), ascii[b]});
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    if (!ok) {
      out->push_back({0xFFFFFFFFu, static_cast<uint32_t>(i), 0});
      ++i;
      continue;
    }
    out->push_back({cp, static_cast<uint32_t>(i), ClassifySlow(cp)});
    i += len;
  }
  out->push_back({0, static_cast<uint32_t>(n), 0});  // sentinel: offset of the end
}

// Simple case folding of the few letters the contraction patterns name.
uint32_t Fold(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp == 0x017F) return 's';  // LATIN SMALL LETTER LONG S folds to s
  if (cp == 0x212A) return 'k';  // KELVIN SIGN
  return cp;
}

class Scanner {
 public:
  explicit Scanner(const std::vector<Char>& chars) : c_(chars), n_(chars.size() - 1) {}

  bool Is(size_t i, uint8_t cls) const { return i < n_ && (c_[i].cls & cls) != 0; }
  bool IsCp(size_t i, uint32_t cp) const { return i < n_ && c_[i].cp == cp; }
  bool IsFold(size_t i, uint32_t cp) const { return i < n_ && Fold(c_[i].cp) == cp; }
  // Neither whitespace, letter nor number.
  bool IsOther(size_t i) const { return i < n_ && (c_[i].cls & (kSpace | kLetter | kNumber)) == 0; }
  size_t Run(size_t i, uint8_t cls) const {
    while (Is(i, cls)) ++i;
    return i;
  }
  size_t RunOther(size_t i) const {
    while (IsOther(i)) ++i;
    return i;
  }

  // 's 't 're 've 'm 'll 'd after position i (case-insensitive or not); i when none.
  size_t Contraction(size_t i, bool fold) const {
    if (!IsCp(i, '\'')) return i;
    const auto is = [&](size_t k, uint32_t cp) { return fold ? IsFold(k, cp) : IsCp(k, cp); };
    if (is(i + 1, 's') || is(i + 1, 'd') || is(i + 1, 'm') || is(i + 1, 't')) return i + 2;
    if ((is(i + 1, 'l') && is(i + 2, 'l')) || (is(i + 1, 'v') && is(i + 2, 'e')) ||
        (is(i + 1, 'r') && is(i + 2, 'e'))) {
      return i + 3;
    }
    return i;
  }

  // Shared whitespace rules: \s++$ then \s+(?!\S); returns i when neither matches.
  size_t SpaceToEndOrBeforeNonSpace(size_t i) const {
    const size_t k = Run(i, kSpace);
    if (k == i) return i;
    if (k == n_) return n_;
    return k - i >= 2 ? k - 1 : i;
  }

  // \s*[\r\n] (and \s*[\r\n]+, the same here): through the last newline of the space run.
  size_t SpaceThroughNewline(size_t i) const {
    const size_t k = Run(i, kSpace);
    for (size_t m = k; m > i; --m) {
      if (Is(m - 1, kNewline)) return m;
    }
    return i;
  }

  size_t NextR50k(size_t i) const {
    if (size_t e = Contraction(i, false); e > i) return e;
    const size_t j = IsCp(i, ' ') ? i + 1 : i;
    if (Is(j, kLetter)) return Run(j, kLetter);
    if (Is(j, kNumber)) return Run(j, kNumber);
    if (IsOther(j)) return RunOther(j);
    if (size_t e = SpaceToEndOrBeforeNonSpace(i); e > i) return e;
    return i + 1;  // \s (or anything left)
  }

  size_t NextCl100k(size_t i) const {
    if (size_t e = Contraction(i, true); e > i) return e;
    // [^\r\n\p{L}\p{N}]?+\p{L}++
    {
      size_t j = i;
      if (i < n_ && (c_[i].cls & (kNewline | kLetter | kNumber)) == 0) j = i + 1;
      if (Is(j, kLetter)) return Run(j, kLetter);
    }
    // \p{N}{1,3}+
    if (Is(i, kNumber)) {
      size_t k = i;
      while (k < i + 3 && Is(k, kNumber)) ++k;
      return k;
    }
    // ' ?[^\s\p{L}\p{N}]++[\r\n]*+'
    {
      const size_t j = IsCp(i, ' ') ? i + 1 : i;
      if (IsOther(j)) return Run(RunOther(j), kNewline);
    }
    // \s++$
    if (Is(i, kSpace) && Run(i, kSpace) == n_) return n_;
    // \s*[\r\n]
    if (size_t e = SpaceThroughNewline(i); e > i) return e;
    // \s+(?!\S)
    if (size_t e = SpaceToEndOrBeforeNonSpace(i); e > i) return e;
    return i + 1;  // \s
  }

  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ from s, backtracking the first
  // run until the second has a character; then the contraction. i when no match.
  size_t CaseA(size_t s) const {
    const size_t u = Run(s, kUpper);
    for (size_t k = u + 1; k-- > s;) {
      if (Is(k, kLower)) return Contraction(Run(k, kLower), true);
    }
    return SIZE_MAX;
  }
  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* from s, then the contraction.
  size_t CaseB(size_t s) const {
    const size_t u = Run(s, kUpper);
    if (u == s) return SIZE_MAX;
    return Contraction(Run(u, kLower), true);
  }

  size_t NextO200k(size_t i) const {
    const bool prefix = i < n_ && (c_[i].cls & (kNewline | kLetter | kNumber)) == 0;
    if (prefix) {
      if (size_t e = CaseA(i + 1); e != SIZE_MAX) return e;
    }
    if (size_t e = CaseA(i); e != SIZE_MAX) return e;
    if (prefix) {
      if (size_t e = CaseB(i + 1); e != SIZE_MAX) return e;
    }
    if (size_t e = CaseB(i); e != SIZE_MAX) return e;
    // \p{N}{1,3}
    if (Is(i, kNumber)) {
      size_t k = i;
      while (k < i + 3 && Is(k, kNumber)) ++k;
      return k;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
    {
      const size_t j = IsCp(i, ' ') ? i + 1 : i;
      if (IsOther(j)) {
        size_t k = RunOther(j);
        while (Is(k, kNewline) || IsCp(k, '/')) ++k;
        return k;
      }
    }
    // \s*[\r\n]+
    if (size_t e = SpaceThroughNewline(i); e > i) return e;
    // \s+(?!\S)
    if (size_t e = SpaceToEndOrBeforeNonSpace(i); e > i) return e;
    // \s+
    if (Is(i, kSpace)) return Run(i, kSpace);
    return i + 1;
  }

  size_t size() const { return n_; }
  uint32_t offset(size_t i) const { return c_[i].offset; }

 private:
  const std::vector<Char>& c_;
  size_t n_;
};

}  // namespace

bool ParsePretokenPattern(std::string_view name, PretokenPattern* pattern) {
  if (name == "r50k" || name == "gpt2" || name == "r50k_base" || name == "p50k_base" ||
      name == "p50k") {
    *pattern = PretokenPattern::kR50k;
  } else if (name == "cl100k" || name == "cl100k_base") {
    *pattern = PretokenPattern::kCl100k;
  } else if (name == "o200k" || name == "o200k_base") {
    *pattern = PretokenPattern::kO200k;
  } else {
    return false;
  }
  return true;
}

std::string_view PretokenPatternName(PretokenPattern pattern) {
  switch (pattern) {
    case PretokenPattern::kR50k:
      return "r50k";
    case PretokenPattern::kCl100k:
      return "cl100k";
    case PretokenPattern::kO200k:
      return "o200k";
  }
  return "?";
}

std::string_view PretokenPatternRegex(PretokenPattern pattern) {
  switch (pattern) {
    case PretokenPattern::kR50k:
      return R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";
    case PretokenPattern::kCl100k:
      return R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
    case PretokenPattern::kO200k:
      return R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  return "";
}

void Pretokenize(std::string_view text, PretokenPattern pattern,
                 std::vector<std::string_view>* pieces) {
  thread_local std::vector<Char> chars;
  Decode(text, &chars);
  const Scanner scanner(chars);
  size_t i = 0;
  while (i < scanner.size()) {
    size_t e = 0;
    switch (pattern) {
      case PretokenPattern::kR50k:
        e = scanner.NextR50k(i);
        break;
      case PretokenPattern::kCl100k:
        e = scanner.NextCl100k(i);
        break;
      case PretokenPattern::kO200k:
        e = scanner.NextO200k(i);
        break;
    }
    if (e <= i) e = i + 1;  // never stall
    pieces->push_back(text.substr(scanner.offset(i), scanner.offset(e) - scanner.offset(i)));
    i = e;
  }
}

}  // namespace winnow::trainer
