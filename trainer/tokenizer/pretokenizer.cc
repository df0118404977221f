#include "trainer/tokenizer/pretokenizer.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

namespace winnow::trainer {
namespace {

// Character classes, as bit flags.
enum : uint8_t {
  kLetter = 1,    // \p{L}
  kNumber = 2,    // \p{N}
  kSpace = 4,     // \s (White_Space)
  kUpper = 8,     // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kLower = 16,    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  kNewline = 32,  // \r or \n
  kEnd = 64,      // past the end of the text (the sentinels)
};

constexpr uint8_t kLu = kLetter | kUpper;
constexpr uint8_t kLl = kLetter | kLower;
constexpr uint8_t kLm = kLetter | kUpper | kLower;  // also \p{Lo}
constexpr uint8_t kLo = kLm;
constexpr uint8_t kM = kUpper | kLower;
constexpr uint8_t kN = kNumber;

// Characters Unicode 15.1 and 16.0 assigned, which ICU 72 (Unicode 15.0) does not know yet but
// tiktoken's regex engine (the Rust regex crate, Unicode 16.0) does. Used only for code points
// ICU calls unassigned, so a newer ICU gives the same answer. (tests/tools/tiktoken_golden.py
// --classes lists tiktoken's classes of every code point; none of White_Space changed.)
struct Assigned {
  uint32_t first, last;
  uint8_t cls;
};
constexpr Assigned kUnicode16[] = {
    {0x897, 0x897, kM},      {0x1C89, 0x1C89, kLu},   {0x1C8A, 0x1C8A, kLl},
    {0xA7CB, 0xA7CC, kLu},   {0xA7CD, 0xA7CD, kLl},   {0xA7DA, 0xA7DA, kLu},
    {0xA7DB, 0xA7DB, kLl},   {0xA7DC, 0xA7DC, kLu},   {0x105C0, 0x105F3, kLo},
    {0x10D40, 0x10D49, kN},  {0x10D4A, 0x10D4D, kLo}, {0x10D4E, 0x10D4E, kLm},
    {0x10D4F, 0x10D4F, kLo}, {0x10D50, 0x10D65, kLu}, {0x10D69, 0x10D6D, kM},
    {0x10D6F, 0x10D6F, kLm}, {0x10D70, 0x10D85, kLl}, {0x10EC2, 0x10EC4, kLo},
    {0x10EFC, 0x10EFC, kM},  {0x11380, 0x11389, kLo}, {0x1138B, 0x1138B, kLo},
    {0x1138E, 0x1138E, kLo}, {0x11390, 0x113B5, kLo}, {0x113B7, 0x113B7, kLo},
    {0x113B8, 0x113C0, kM},  {0x113C2, 0x113C2, kM},  {0x113C5, 0x113C5, kM},
    {0x113C7, 0x113CA, kM},  {0x113CC, 0x113D0, kM},  {0x113D1, 0x113D1, kLo},
    {0x113D2, 0x113D2, kM},  {0x113D3, 0x113D3, kLo}, {0x113E1, 0x113E2, kM},
    {0x116D0, 0x116E3, kN},  {0x11BC0, 0x11BE0, kLo}, {0x11BF0, 0x11BF9, kN},
    {0x11F5A, 0x11F5A, kM},  {0x13460, 0x143FA, kLo}, {0x16100, 0x1611D, kLo},
    {0x1611E, 0x1612F, kM},  {0x16130, 0x16139, kN},  {0x16D40, 0x16D42, kLm},
    {0x16D43, 0x16D6A, kLo}, {0x16D6B, 0x16D6C, kLm}, {0x16D70, 0x16D79, kN},
    {0x18CFF, 0x18CFF, kLo}, {0x1CCF0, 0x1CCF9, kN},  {0x1E5D0, 0x1E5ED, kLo},
    {0x1E5EE, 0x1E5EF, kM},  {0x1E5F0, 0x1E5F0, kLo}, {0x1E5F1, 0x1E5FA, kN},
    {0x2EBF0, 0x2EE5D, kLo},
};

uint8_t ClassifySlow(uint32_t cp) {
  uint8_t c = 0;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER:
    case U_TITLECASE_LETTER:
      c = kLu;
      break;
    case U_LOWERCASE_LETTER:
      c = kLl;
      break;
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      c = kLm;
      break;
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
      c = kM;
      break;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      c = kN;
      break;
    case U_UNASSIGNED:
      for (const Assigned& a : kUnicode16) {
        if (cp >= a.first && cp <= a.last) c = a.cls;
      }
      break;
    default:
      break;
  }
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) c |= kSpace;
  if (cp == '\r' || cp == '\n') c |= kNewline;
  return c;
}

// The class of every code point, 256 at a time, each block filled from ICU the first time a
// character of it is seen (any thread; a block is written once and never changes).
class ClassTable {
 public:
  static const ClassTable& Get() {
    static const ClassTable* table = new ClassTable();
    return *table;
  }
  const uint8_t* AsciiTable() const { return ascii_.data(); }
  uint8_t Of(uint32_t cp) const {
    const uint8_t* block = blocks_[cp >> 8].load(std::memory_order_acquire);
    if (block == nullptr) block = Fill(cp >> 8);
    return block[cp & 0xFF];
  }

 private:
  ClassTable() {
    for (uint32_t cp = 0; cp < 128; ++cp) ascii_[cp] = ClassifySlow(cp);
  }
  const uint8_t* Fill(uint32_t block) const {
    auto fresh = std::make_unique<uint8_t[]>(256);
    for (uint32_t k = 0; k < 256; ++k) fresh[k] = ClassifySlow((block << 8) | k);
    const uint8_t* expected = nullptr;
    if (blocks_[block].compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
      return fresh.release();  // lives as long as the program
    }
    return expected;
  }

  std::array<uint8_t, 128> ascii_{};
  mutable std::array<std::atomic<const uint8_t*>, 0x1100> blocks_{};
};

// The few non-ASCII characters the contraction patterns care about get their own codes; every
// other non-ASCII character (and every invalid byte) is kOtherCode.
constexpr uint8_t kOtherCode = 0x80;
constexpr uint8_t kLongS = 0x81;   // U+017F LATIN SMALL LETTER LONG S: folds to s
constexpr uint8_t kKelvin = 0x82;  // U+212A KELVIN SIGN: folds to k
constexpr size_t kSentinels = 3;   // the scanners look up to two characters past a position

// The text as characters: each one's class, code (the byte for ASCII) and byte offset, then
// kSentinels end marks (class kEnd, offset = the text's size).
struct Chars {
  size_t n = 0, capacity = 0;
  std::unique_ptr<uint8_t[]> cls, code;
  std::unique_ptr<uint32_t[]> offset;

  void Reserve(size_t size) {
    if (size <= capacity) return;
    capacity = std::max(size, capacity * 2);
    cls = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    code = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    offset = std::make_unique_for_overwrite<uint32_t[]>(capacity);
  }
};

// Decodes UTF-8; an invalid or truncated sequence yields one character of no class per byte.
void Decode(std::string_view text, Chars* chars) {
  const ClassTable& table = ClassTable::Get();
  const size_t n = text.size();
  chars->Reserve(n + kSentinels);
  // Byte stores alias everything unless told otherwise.
  uint8_t* __restrict cls = chars->cls.get();
  uint8_t* __restrict code = chars->code.get();
  uint32_t* __restrict offset = chars->offset.get();
  const uint8_t* __restrict ascii = table.AsciiTable();
  const auto* __restrict s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0, k = 0;
  while (i < n) {
    // A run of ASCII.
    while (i < n && s[i] < 0x80) {
      cls[k] = ascii[s[i]];
      code[k] = s[i];
      offset[k++] = static_cast<uint32_t>(i++);
    }
    if (i == n) break;
    const unsigned char b = s[i];
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
    for (size_t m = 1; ok && m < len; ++m) {
      if ((s[i + m] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (s[i + m] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    offset[k] = static_cast<uint32_t>(i);
    if (!ok) {
      cls[k] = 0;
      code[k++] = kOtherCode;
      ++i;
      continue;
    }
    cls[k] = table.Of(cp);
    code[k++] = cp == 0x017F ? kLongS : cp == 0x212A ? kKelvin : kOtherCode;
    i += len;
  }
  chars->n = k;
  for (size_t m = 0; m < kSentinels; ++m) {
    cls[k + m] = kEnd;
    code[k + m] = 0;
    offset[k + m] = static_cast<uint32_t>(n);
  }
}

// Simple case folding of the letters the contraction patterns name.
inline uint8_t Fold(uint8_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == kLongS) return 's';
  if (c == kKelvin) return 'k';
  return c;
}

class Scanner {
 public:
  explicit Scanner(const Chars& chars)
      : cls_(chars.cls.get()), code_(chars.code.get()), offset_(chars.offset.get()), n_(chars.n) {}

  bool Is(size_t i, uint8_t cls) const { return (cls_[i] & cls) != 0; }
  bool IsCp(size_t i, uint8_t c) const { return code_[i] == c; }
  bool IsFold(size_t i, uint8_t c) const { return Fold(code_[i]) == c; }
  // Neither whitespace, letter nor number (nor the end).
  bool IsOther(size_t i) const { return (cls_[i] & (kSpace | kLetter | kNumber | kEnd)) == 0; }
  // [^\r\n\p{L}\p{N}] (not the end).
  bool IsPrefix(size_t i) const { return (cls_[i] & (kNewline | kLetter | kNumber | kEnd)) == 0; }
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
    const auto is = [&](size_t k, uint8_t c) { return fold ? IsFold(k, c) : IsCp(k, c); };
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
      const size_t j = IsPrefix(i) ? i + 1 : i;
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
  // run until the second has a character; then the contraction. SIZE_MAX when no match.
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
    const bool prefix = IsPrefix(i);
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
  uint32_t offset(size_t i) const { return offset_[i]; }

 private:
  const uint8_t* cls_;
  const uint8_t* code_;
  const uint32_t* offset_;
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
  thread_local Chars chars;
  Decode(text, &chars);
  const Scanner scanner(chars);
  const size_t n = scanner.size();
  size_t i = 0;
  const auto emit = [&](size_t e) {
    if (e <= i) e = i + 1;  // never stall
    pieces->push_back(text.substr(scanner.offset(i), scanner.offset(e) - scanner.offset(i)));
    i = e;
  };
  switch (pattern) {
    case PretokenPattern::kR50k:
      while (i < n) emit(scanner.NextR50k(i));
      break;
    case PretokenPattern::kCl100k:
      while (i < n) emit(scanner.NextCl100k(i));
      break;
    case PretokenPattern::kO200k:
      while (i < n) emit(scanner.NextO200k(i));
      break;
  }
}

}  // namespace winnow::trainer
