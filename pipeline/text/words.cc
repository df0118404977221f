// The word splitter follows the algorithm spaCy's tokenizer documents (Tokenizer.explain, "How
// spaCy's tokenizer works"), written here from its description:
//   1. split the text on whitespace;
//   2. a chunk that is a tokenizer exception (special case) gives the exception's tokens;
//   3. otherwise peel prefixes and suffixes off, one at a time, stopping early when what remains is
//      a special case;
//   4. the core left gives a special case's tokens, or one token when it looks like a URL or an
//      email, or else is cut at its infixes;
//   5. special cases whose text the affix rules split (":)", "e.g." next to other punctuation …)
//      are matched again over the tokens of the text, longest first, and replace them (a match
//      with a space inside, such as "( :", changes nothing but blocks the matches it overlaps).
// The character classes, affix lists and special cases are spaCy's English data, generated into
// pipeline/text/spacy_en_data.inc.
#include "pipeline/text/words.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/text/unicode.h"

namespace winnow::pipeline {
namespace {

// Defines kCurrencies, kUnits and kExceptions.
#define WINNOW_SPACY_EN_TOKENIZER
#include "pipeline/text/spacy_en_data.inc"
#undef WINNOW_SPACY_EN_TOKENIZER

bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }

// What a byte is, for the chunk scan: ASCII whitespace, ASCII letter, other ASCII, or part of a
// multi-byte character.
constexpr uint8_t kKindSpace = 0, kKindLetter = 1, kKindOther = 2, kKindNonAscii = 4;
constexpr std::array<uint8_t, 256> kByteKind = [] {
  std::array<uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b) {
    if (b >= 0x80) {
      t[b] = kKindNonAscii;
    } else if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) {
      t[b] = kKindLetter;
    } else if (b == ' ' || (b >= '\t' && b <= '\r') || (b >= 0x1C && b <= 0x1F)) {
      t[b] = kKindSpace;
    } else {
      t[b] = kKindOther;
    }
  }
  return t;
}();

uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001b3ULL;
  }
  return h ^ (h >> 29);
}

// A read-mostly open-addressing map from short strings to small integers. A bitset over (length,
// first byte, last byte) turns most misses away before any hashing.
class StringMap {
 public:
  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  void Insert(std::string_view key, int value) {
    const uint64_t h = HashBytes(key);
    size_t i = h & mask_;
    while (slots_[i].value >= 0 && slots_[i].key != key) i = (i + 1) & mask_;
    slots_[i] = Slot{key, h, value};
    max_key_ = std::max(max_key_, key.size());
    const size_t q = QuickIndex(key);
    quick_[q / 64] |= uint64_t{1} << (q % 64);
  }
  // The value stored under `key`, or -1. The common miss is decided inline, without hashing.
  int Find(std::string_view key) const {
    if (key.size() - 1 >= max_key_) return -1;  // empty, or longer than every key
    const size_t q = QuickIndex(key);
    if (!((quick_[q >> 6] >> (q & 63)) & 1)) return -1;
    return FindSlow(key);
  }
  size_t max_key() const { return max_key_; }

 private:
  struct Slot {
    std::string_view key;
    uint64_t hash = 0;
    int value = -1;
  };
  // From the length and the first, middle and last bytes: cheap, and it tells most words from the
  // special cases (which are words too).
  static size_t QuickIndex(std::string_view key) {
    const size_t n = key.size();
    const uint64_t v = n | static_cast<uint64_t>(static_cast<unsigned char>(key[0])) << 8 |
                       static_cast<uint64_t>(static_cast<unsigned char>(key[n >> 1])) << 16 |
                       static_cast<uint64_t>(static_cast<unsigned char>(key[n - 1])) << 24;
    return (v * 0x9E3779B97F4A7C15ULL) >> (64 - kQuickLog2);
  }
  int FindSlow(std::string_view key) const {
    const uint64_t h = HashBytes(key);
    size_t i = h & mask_;
    while (slots_[i].value >= 0) {
      if (slots_[i].hash == h && slots_[i].key == key) return slots_[i].value;
      i = (i + 1) & mask_;
    }
    return -1;
  }
  static constexpr size_t kQuickLog2 = 16;
  static constexpr size_t kQuickBits = size_t{1} << kQuickLog2;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t max_key_ = 0;
  std::array<uint64_t, kQuickBits / 64> quick_{};
};

// A special case: a string with a fixed tokenization.
struct Special {
  std::string text;
  std::vector<uint8_t> tokens;   // byte lengths of its tokens
  std::vector<uint8_t> pattern;  // byte lengths of the tokens the affix rules alone give; empty
                                 // when the affix rules find nothing in `text`
};

class Tokenizer {
 public:
  Tokenizer() {
    specials_.reserve(std::size(kExceptions));
    for (std::string_view e : kExceptions) {
      Special s;
      size_t start = 0;
      for (size_t i = 0; i <= e.size(); ++i) {
        if (i == e.size() || e[i] == '\001') {
          s.tokens.push_back(static_cast<uint8_t>(i - start));
          s.text.append(e.substr(start, i - start));
          start = i + 1;
        }
      }
      specials_.push_back(std::move(s));
    }
    special_index_.Reserve(specials_.size());
    for (size_t i = 0; i < specials_.size(); ++i) {
      special_index_.Insert(specials_[i].text, static_cast<int>(i));
    }
    affix_index_.Reserve(std::size(kCurrencies) + std::size(kUnits));
    for (std::string_view c : kCurrencies) affix_index_.Insert(c, 1);
    for (std::string_view u : kUnits) affix_index_.Insert(u, 1);
    // Special cases the affix rules would split are also matched across tokens (spaCy adds them to
    // its special-case matcher when a prefix, suffix or infix rule finds something in them).
    std::vector<std::string_view> tokens, scratch;
    matcher_index_.Reserve(specials_.size());
    size_t num_first_tokens = 0;
    for (size_t i = 0; i < specials_.size(); ++i) {
      Special& s = specials_[i];
      if (PrefixLength(s.text) == 0 && SuffixLength(s.text) == 0 && !HasInfix(s.text)) continue;
      tokens.clear();
      TokenizeChunk(s.text, /*with_specials=*/false, &tokens, &scratch);
      for (std::string_view t : tokens) s.pattern.push_back(static_cast<uint8_t>(t.size()));
      matcher_index_.Insert(s.text, static_cast<int>(i));
      num_first_tokens++;
    }
    first_token_index_.Reserve(num_first_tokens);
    for (const Special& s : specials_) {
      if (!s.pattern.empty())
        first_token_index_.Insert(std::string_view(s.text).substr(0, s.pattern[0]), 1);
    }
  }

  void Split(std::string_view text, std::vector<std::string_view>* out) const {
    out->clear();
    std::vector<std::string_view> suffixes;
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
      // Skip whitespace (Python str.isspace), with an ASCII fast path.
      while (i < n) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
          if (!(internal::kAsciiFlags[b] & kCharSpace)) break;
          ++i;
        } else {
          size_t next = i;
          if (!(CharFlags(DecodeUtf8(text, &next)) & kCharSpace)) break;
          i = next;
        }
      }
      // The chunk up to the next whitespace; `kinds` ORs the byte kinds seen in it.
      const size_t start = i;
      uint8_t kinds = 0;
      while (i < n) {
        const auto b = static_cast<unsigned char>(text[i]);
        const uint8_t kind = kByteKind[b];
        if (kind == kKindSpace) break;
        if (kind == kKindNonAscii) {
          size_t next = i;
          if (CharFlags(DecodeUtf8(text, &next)) & kCharSpace) break;
          kinds |= kind;
          i = next;
          continue;
        }
        kinds |= kind;
        ++i;
      }
      if (i == start) continue;
      const std::string_view chunk = text.substr(start, i - start);
      if (kinds == kKindLetter) {
        // Only ASCII letters: no prefix, suffix, infix or URL applies; a special case may.
        if (const Special* sp = FindSpecial(chunk)) {
          EmitSpecial(chunk, *sp, out);
        } else {
          out->push_back(chunk);
        }
      } else {
        TokenizeChunk(chunk, true, out, &suffixes);
      }
    }
    MatchSpecials(out);
  }

 private:
  const Special* FindSpecial(std::string_view s) const {
    const int i = special_index_.Find(s);
    return i < 0 ? nullptr : &specials_[i];
  }

  static void EmitSpecial(std::string_view s, const Special& special,
                          std::vector<std::string_view>* out) {
    size_t at = 0;
    for (uint8_t len : special.tokens) {
      out->push_back(s.substr(at, len));
      at += len;
    }
  }

  // spaCy's tokenization of one whitespace-free chunk.
  void TokenizeChunk(std::string_view chunk, bool with_specials, std::vector<std::string_view>* out,
                     std::vector<std::string_view>* suffixes) const {
    if (with_specials) {
      if (const Special* sp = FindSpecial(chunk)) {
        EmitSpecial(chunk, *sp, out);
        return;
      }
    }
    suffixes->clear();
    std::string_view s = chunk;
    size_t last_size = std::string_view::npos;
    size_t not_special = with_specials ? chunk.size() : 0;  // size of an s known not to be special
    while (!s.empty() && s.size() != last_size) {
      if (with_specials && s.size() != not_special && FindSpecial(s)) break;
      not_special = s.size();
      last_size = s.size();
      const size_t pre = PrefixLength(s);
      if (pre != 0 && with_specials) {
        const std::string_view minus_pre = s.substr(pre);
        if (!minus_pre.empty() && FindSpecial(minus_pre)) {
          out->push_back(s.substr(0, pre));
          s = minus_pre;
          break;
        }
      }
      const size_t suf = SuffixLength(s.substr(pre));
      if (suf != 0 && with_specials) {
        const std::string_view minus_suf = s.substr(0, s.size() - suf);
        if (!minus_suf.empty() && FindSpecial(minus_suf)) {
          suffixes->push_back(s.substr(s.size() - suf));
          s = minus_suf;
          break;
        }
      }
      if (pre != 0) out->push_back(s.substr(0, pre));
      if (suf != 0) suffixes->push_back(s.substr(s.size() - suf));
      s = s.substr(pre, s.size() - pre - suf);
    }
    if (!s.empty()) {
      const Special* sp = with_specials && s.size() != not_special ? FindSpecial(s) : nullptr;
      if (sp != nullptr) {
        EmitSpecial(s, *sp, out);
      } else if (MatchUrl(s)) {
        out->push_back(s);
      } else {
        SplitInfixes(s, out);
      }
    }
    for (auto it = suffixes->rbegin(); it != suffixes->rend(); ++it) out->push_back(*it);
  }

  // Length in bytes of the prefix at the start of `s`, 0 if none. Alternatives in spaCy's order
  // only matter where one can be longer than a single character: `\.\.+`, US$, C$, A$.
  static size_t PrefixLength(std::string_view s) {
    if (s.empty()) return 0;
    const char b = s[0];
    if (b == '.') {
      size_t k = 1;
      while (k < s.size() && s[k] == '.') ++k;
      return k >= 2 ? k : 0;
    }
    if (b == '+') return s.size() > 1 && IsAsciiDigit(static_cast<unsigned char>(s[1])) ? 0 : 1;
    if (b == 'U' && s.substr(0, 3) == "US$") return 3;
    if ((b == 'C' || b == 'A') && s.size() >= 2 && s[1] == '$') return 2;
    size_t next = 0;
    const char32_t c = DecodeUtf8(s, &next);
    return (CharFlags(c) & kCharPrefix) ? next : 0;
  }

  // Length in bytes of the suffix at the end of `s`, 0 if none: the match of spaCy's suffix
  // alternatives that starts leftmost.
  size_t SuffixLength(std::string_view s) const {
    const size_t n = s.size();
    if (n == 0) return 0;
    size_t best = n;
    size_t dots = 0;
    while (dots < n && s[n - 1 - dots] == '.') ++dots;
    if (dots >= 2) best = n - dots;
    size_t p1;
    const char32_t c1 = DecodeUtf8Before(s, n, &p1);
    const uint32_t f1 = CharFlags(c1);
    static constexpr std::string_view kDoubleEllipsis = "\u2026\u2026";
    if (c1 == 0x2026 && n >= kDoubleEllipsis.size() &&
        s.substr(n - kDoubleEllipsis.size()) == kDoubleEllipsis) {
      best = std::min(best, n - kDoubleEllipsis.size());
    }
    if (c1 == 's' || c1 == 'S') {  // 's 'S ’s ’S
      if (p1 >= 1 && s[p1 - 1] == '\'') best = std::min(best, p1 - 1);
      if (p1 >= 3 && s.substr(p1 - 3, 3) == "\u2019") best = std::min(best, p1 - 3);
    }
    // A currency sign or a unit right after an ASCII digit. Neither contains a digit, so the only
    // candidate is the tail after the last digit.
    const size_t max_tail = affix_index_.max_key();
    for (size_t k = 1; k <= max_tail + 1 && k <= n; ++k) {
      const char b = s[n - k];
      if (b >= '0' && b <= '9') {
        if (k > 1 && affix_index_.Find(s.substr(n - k + 1)) >= 0) {
          best = std::min(best, n - k + 1);
        }
        break;
      }
    }
    bool single = (f1 & kCharSuffix) != 0;
    if (!single && p1 > 0 && (c1 == '+' || c1 == '.')) {
      size_t p2;
      const char32_t c2 = DecodeUtf8Before(s, p1, &p2);
      const uint32_t f2 = CharFlags(c2);
      if (c1 == '+') {
        single = IsAsciiDigit(c2);
      } else if (f2 & kCharDotAfter) {
        single = true;
      } else if (p2 > 0) {
        size_t p3;
        const char32_t c3 = DecodeUtf8Before(s, p2, &p3);
        if ((f2 & kCharUpper) && (CharFlags(c3) & kCharUpper)) single = true;
        if (c3 == 0xB0 && c2 < 128 && c2 != 0 &&
            std::strchr("FfCcKk", static_cast<int>(c2)) != nullptr) {
          single = true;
        }
      }
    }
    if (single) best = std::min(best, p1);
    return n - best;
  }

  // Whether `s` has a character that can start an infix match: one of . + - * ^ , ~ : < > = /,
  // or a non-ASCII '…', '–', '—' or icon.
  static bool MayHaveInfix(std::string_view s) {
    static constexpr std::array<bool, 128> kStart = [] {
      std::array<bool, 128> t{};
      for (char c : std::string_view(".+-*^,~:<>=/")) t[static_cast<unsigned char>(c)] = true;
      return t;
    }();
    for (size_t i = 0; i < s.size();) {
      const auto b = static_cast<unsigned char>(s[i]);
      if (b < 0x80) {
        if (kStart[b]) return true;
        ++i;
        continue;
      }
      const char32_t c = DecodeUtf8(s, &i);
      if (c == 0x2026 || c == 0x2013 || c == 0x2014 || (CharFlags(c) & kCharIcon)) return true;
    }
    return false;
  }

  // Length in bytes of the infix match at byte `p` (code point `c`, `next` its end, `prev` the
  // code point before it or 0 at the start), 0 if none. spaCy's English infix alternatives, in
  // order.
  static size_t InfixAt(std::string_view s, size_t p, size_t next, char32_t c, char32_t prev) {
    const size_t n = s.size();
    char32_t after = 0;
    if (next < n) {
      size_t q = next;
      after = DecodeUtf8(s, &q);
    }
    const uint32_t fp = p > 0 ? CharFlags(prev) : 0;
    const uint32_t fa = next < n ? CharFlags(after) : 0;
    if (c == '.' && after == '.') {  // \.\.+
      size_t k = p;
      while (k < n && s[k] == '.') ++k;
      return k - p;
    }
    if (c == 0x2026) return next - p;               // …
    if (CharFlags(c) & kCharIcon) return next - p;  // icons
    const bool prev_digit = p > 0 && IsAsciiDigit(prev);
    if ((c == '+' || c == '-' || c == '*' || c == '^') && prev_digit && next < n &&
        (IsAsciiDigit(after) || after == '-')) {
      return 1;
    }
    if (c == '.' && (fp & (kCharLower | kCharQuote)) && (fa & (kCharUpper | kCharQuote))) return 1;
    if (c == ',' && (fp & kCharAlpha) && (fa & kCharAlpha)) return 1;
    if (((fp & kCharAlpha) || prev_digit) && (c == '-' || c == 0x2013 || c == 0x2014 || c == '~')) {
      static constexpr std::string_view kHyphens[] = {"-",   "\u2013",       "\u2014", "--",
                                                      "---", "\u2014\u2014", "~"};
      for (std::string_view h : kHyphens) {
        if (s.compare(p, h.size(), h) != 0) continue;
        if (p + h.size() >= n) continue;
        size_t q = p + h.size();
        if (CharFlags(DecodeUtf8(s, &q)) & kCharAlpha) return h.size();
      }
    }
    if (((fp & kCharAlpha) || prev_digit) &&
        (c == ':' || c == '<' || c == '>' || c == '=' || c == '/') && (fa & kCharAlpha)) {
      return 1;
    }
    return 0;
  }

  static bool HasInfix(std::string_view s) {
    char32_t prev = 0;
    for (size_t p = 0; p < s.size();) {
      size_t next = p;
      const char32_t c = DecodeUtf8(s, &next);
      if (InfixAt(s, p, next, c, prev) != 0) return true;
      prev = c;
      p = next;
    }
    return false;
  }

  // Cuts `s` at its infixes (Python re.finditer semantics: leftmost, non-overlapping; a match at
  // the very start is not cut off).
  static void SplitInfixes(std::string_view s, std::vector<std::string_view>* out) {
    if (!MayHaveInfix(s)) {
      out->push_back(s);
      return;
    }
    size_t start = 0;
    char32_t prev = 0;
    for (size_t p = 0; p < s.size();) {
      size_t next = p;
      const char32_t c = DecodeUtf8(s, &next);
      const size_t m = InfixAt(s, p, next, c, prev);
      if (m == 0) {
        prev = c;
        p = next;
        continue;
      }
      if (p != 0) {
        if (p != start) out->push_back(s.substr(start, p - start));
        out->push_back(s.substr(p, m));
        start = p + m;
      }
      size_t last_start;
      prev = DecodeUtf8Before(s, p + m, &last_start);
      p += m;
    }
    if (start < s.size()) out->push_back(s.substr(start));
  }

  // --- URLs and emails (spaCy's URL_MATCH) ---------------------------------------------------

  // [A-Za-z0-9\u00a1-\uffff]
  static bool IsHostChar(char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsAsciiDigit(c) ||
           (c >= 0xA1 && c <= 0xFFFF);
  }

  // `(?::\d{2,5})?(?:[/?#]\S*)?$` at the start of `r`.
  static bool MatchPortPath(std::string_view r) {
    if (r.empty() || r[0] == '/' || r[0] == '?' || r[0] == '#') return true;
    if (r[0] != ':') return false;
    size_t k = 1;
    while (k < r.size() && IsAsciiDigit(static_cast<unsigned char>(r[k]))) ++k;
    if (k - 1 < 2 || k - 1 > 5) return false;
    return k == r.size() || r[k] == '/' || r[k] == '?' || r[k] == '#';
  }

  // Parses the decimal number of ASCII digits at r[*pos], at most `max_digits` of them.
  static int Octet(std::string_view r, size_t* pos, size_t* digits) {
    int v = 0;
    size_t k = *pos;
    while (k < r.size() && IsAsciiDigit(static_cast<unsigned char>(r[k])) && k - *pos < 4) {
      v = v * 10 + (r[k] - '0');
      ++k;
    }
    *digits = k - *pos;
    *pos = k;
    return v;
  }

  // `lead(?:\.\d{1,3}){groups}` matches at the start of `r`.
  static bool StartsWithDotted(std::string_view r, std::string_view lead, int groups) {
    if (r.substr(0, lead.size()) != lead) return false;
    size_t k = lead.size();
    for (int g = 0; g < groups; ++g) {
      if (k >= r.size() || r[k] != '.') return false;
      ++k;
      size_t d = 0;
      while (k < r.size() && IsAsciiDigit(static_cast<unsigned char>(r[k])) && d < 3) ++k, ++d;
      if (d == 0) return false;
    }
    return true;
  }

  // The IP-address alternative of URL_MATCH, then port and path.
  static bool MatchIpHost(std::string_view r) {
    for (std::string_view lead : {"10", "127"}) {
      if (StartsWithDotted(r, lead, 3)) return false;
    }
    for (std::string_view lead : {"169.254", "192.168"}) {
      if (StartsWithDotted(r, lead, 2)) return false;
    }
    if (r.substr(0, 4) == "172.") {
      for (int second = 16; second <= 31; ++second) {
        if (StartsWithDotted(r, "172." + std::to_string(second), 2)) return false;
      }
    }
    size_t end = 0;
    while (end < r.size() && (IsAsciiDigit(static_cast<unsigned char>(r[end])) || r[end] == '.')) {
      ++end;
    }
    const std::string_view ip = r.substr(0, end);
    size_t pos = 0;
    for (int part = 0; part < 4; ++part) {
      if (part > 0) {
        if (pos >= ip.size() || ip[pos] != '.') return false;
        ++pos;
      }
      const char first_digit = pos < ip.size() ? ip[pos] : 0;
      size_t digits;
      const int v = Octet(ip, &pos, &digits);
      if (digits == 0 || digits > 3) return false;
      const bool leading_zero = first_digit == '0' && digits > 1;
      if (part == 0) {
        if (leading_zero || v < 1 || v > 223) return false;
      } else if (part < 3) {
        if (digits == 3 && (first_digit == '0' || v > 255)) return false;
      } else {
        if (leading_zero || v < 1 || v > 254) return false;
      }
    }
    return pos == ip.size() && MatchPortPath(r.substr(end));
  }

  // The host-name alternative: labels of [A-Za-z0-9\u00a1-\uffff_-] ending in '.', a lower-case
  // TLD of 2 to 63 letters, then port and path.
  static bool MatchNameHost(std::string_view r) {
    size_t end = 0;
    while (end < r.size()) {
      size_t next = end;
      const char32_t c = DecodeUtf8(r, &next);
      // The TLD's letters (ALPHA_LOWER) include code points beyond U+FFFF that labels may not.
      if (!IsHostChar(c) && c != '_' && c != '-' && c != '.' && !(CharFlags(c) & kCharLower)) break;
      end = next;
    }
    const std::string_view host = r.substr(0, end);
    const size_t last_dot = host.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0) return false;
    const std::string_view tld = host.substr(last_dot + 1);
    size_t tld_len = 0;
    for (size_t i = 0; i < tld.size();) {
      if (!(CharFlags(DecodeUtf8(tld, &i)) & kCharLower)) return false;
      ++tld_len;
    }
    if (tld_len < 2 || tld_len > 63) return false;
    // Every label before the TLD: 1 to 64 characters, starting and ending with a host character.
    size_t label_start = 0;
    while (label_start <= last_dot) {
      const size_t dot = host.find('.', label_start);
      const std::string_view label = host.substr(label_start, dot - label_start);
      if (label.empty()) return false;
      size_t count = 0;
      char32_t c = 0;
      for (size_t i = 0; i < label.size(); ++count) {
        c = DecodeUtf8(label, &i);
        if (!IsHostChar(c) && (count == 0 || (c != '_' && c != '-'))) return false;
      }
      if (!IsHostChar(c) || count > 64) return false;
      label_start = dot + 1;
    }
    return MatchPortPath(r.substr(end));
  }

  static bool MatchHostPortPath(std::string_view r) {
    if (r.empty()) return false;
    if (IsAsciiDigit(static_cast<unsigned char>(r[0])) && MatchIpHost(r)) return true;
    return MatchNameHost(r);
  }

  // spaCy's URL_MATCH: optional scheme, optional user info ending in '@', host, port, path.
  static bool MatchUrl(std::string_view s) {
    if (s.find('.') == std::string_view::npos) return false;
    std::string_view candidates[2] = {s, {}};
    int num = 1;
    size_t k = 0;
    size_t scheme_chars = 0;
    while (k < s.size()) {
      size_t next = k;
      const char32_t c = DecodeUtf8(s, &next);
      if (!(CharFlags(c) & kCharWord) && c != '+' && c != '-' && c != '.') break;
      k = next;
      ++scheme_chars;
    }
    if (scheme_chars >= 2 && s.substr(k, 3) == "://") candidates[num++] = s.substr(k + 3);
    for (int i = 0; i < num; ++i) {
      const std::string_view r = candidates[i];
      if (MatchHostPortPath(r)) return true;
      for (size_t at = r.find('@', 1); at != std::string_view::npos; at = r.find('@', at + 1)) {
        if (MatchHostPortPath(r.substr(at + 1))) return true;
      }
    }
    return false;
  }

  // --- special cases across tokens --------------------------------------------------------------

  // Whether tokens[first..] have the byte lengths of `pattern`.
  static bool SameLengths(const std::vector<uint8_t>& pattern,
                          const std::vector<std::string_view>& tokens, size_t first) {
    for (size_t k = 0; k < pattern.size(); ++k) {
      if (first + k >= tokens.size() || pattern[k] != tokens[first + k].size()) return false;
    }
    return true;
  }

  // spaCy's special-case matcher, run over the tokens of the whole text: wherever consecutive
  // tokens not separated by a whitespace token (that is, by nothing or by exactly one ' ') equal
  // the affix rules' split of a special case, that is a candidate span. Candidates are taken
  // longest first, then leftmost, skipping any whose first or last token an earlier candidate
  // covered. A taken span whose text is the special case (no space inside) gets the special
  // case's tokens; one with a space inside changes nothing but still blocks the spans it overlaps.
  void MatchSpecials(std::vector<std::string_view>* out) const {
    struct Candidate {
      size_t begin, end;  // token indices [begin, end)
      int special;
      bool spaced;  // a ' ' lies between two of its tokens
    };
    const size_t n = out->size();
    const size_t max_bytes = matcher_index_.max_key();
    // Only a span with no space inside can change anything, and such a span lies within one
    // whitespace-free chunk that was cut into several tokens: look for one first, and run the full
    // search (which must also weigh the spans with spaces, since they block) only if there is one.
    bool applicable = false;
    for (size_t i = 0; i + 1 < n && !applicable; ++i) {
      const std::string_view t = (*out)[i];
      if (t.data() + t.size() != (*out)[i + 1].data()) continue;
      if (first_token_index_.Find(t) < 0) continue;
      for (size_t j = i + 1; j < n; ++j) {
        const std::string_view prev = (*out)[j - 1];
        if (prev.data() + prev.size() != (*out)[j].data()) break;
        const size_t bytes = (*out)[j].data() + (*out)[j].size() - t.data();
        if (bytes > max_bytes) break;
        const int sp = matcher_index_.Find(std::string_view(t.data(), bytes));
        if (sp >= 0 && specials_[sp].pattern.size() == j - i + 1 &&
            SameLengths(specials_[sp].pattern, *out, i)) {
          applicable = true;
          break;
        }
      }
    }
    if (!applicable) return;
    std::vector<Candidate> candidates;
    char buf[64];
    for (size_t i = 0; i < n; ++i) {
      if (first_token_index_.Find((*out)[i]) < 0) continue;
      size_t len = 0;
      bool spaced = false;
      for (size_t j = i; j < n; ++j) {
        const std::string_view t = (*out)[j];
        if (j > i) {
          const char* prev_end = (*out)[j - 1].data() + (*out)[j - 1].size();
          const size_t gap = t.data() - prev_end;
          if (gap > 1 || (gap == 1 && *prev_end != ' ')) break;
          spaced |= gap == 1;
        }
        if (len + t.size() > max_bytes || len + t.size() > sizeof(buf)) break;
        std::memcpy(buf + len, t.data(), t.size());
        len += t.size();
        const int sp = matcher_index_.Find(std::string_view(buf, len));
        if (sp < 0) continue;
        const std::vector<uint8_t>& pattern = specials_[sp].pattern;
        if (pattern.size() == j - i + 1 && pattern.size() >= 2 && SameLengths(pattern, *out, i)) {
          candidates.push_back(Candidate{i, j + 1, sp, spaced});
        }
      }
    }
    if (candidates.empty()) return;
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
      if (x.end - x.begin != y.end - y.begin) return x.end - x.begin > y.end - y.begin;
      return x.begin < y.begin;
    });
    std::vector<Candidate> taken;
    std::vector<bool> seen(n, false);
    for (const Candidate& c : candidates) {
      if (!seen[c.begin] && !seen[c.end - 1] && !c.spaced) taken.push_back(c);
      for (size_t t = c.begin; t < c.end; ++t) seen[t] = true;
    }
    if (taken.empty()) return;
    std::sort(taken.begin(), taken.end(),
              [](const Candidate& x, const Candidate& y) { return x.begin < y.begin; });
    std::vector<std::string_view> rebuilt;
    rebuilt.reserve(n);
    size_t t = 0;
    for (const Candidate& c : taken) {
      for (; t < c.begin; ++t) rebuilt.push_back((*out)[t]);
      const char* begin = (*out)[c.begin].data();
      const std::string_view last = (*out)[c.end - 1];
      EmitSpecial(std::string_view(begin, last.data() + last.size() - begin), specials_[c.special],
                  &rebuilt);
      t = c.end;
    }
    for (; t < n; ++t) rebuilt.push_back((*out)[t]);
    out->swap(rebuilt);
  }

  std::vector<Special> specials_;
  StringMap special_index_;      // every special case
  StringMap matcher_index_;      // special cases with a pattern
  StringMap first_token_index_;  // first tokens of the patterns
  StringMap affix_index_;        // currencies and units
};

const Tokenizer& GetTokenizer() {
  static const Tokenizer* tokenizer = new Tokenizer();
  return *tokenizer;
}

bool IsSentenceEnd(std::string_view token) {
  size_t next = 0;
  const char32_t c = DecodeUtf8(token, &next);
  return next == token.size() && (CharFlags(c) & kCharSentenceEnd);
}

bool IsPunctToken(std::string_view token) { return AllCharsHave(token, kCharUnicodePunct); }

// The whitespace token spaCy makes of the whitespace `gap` before a word (or at the end): all of
// it, except that one leading ' ' belongs to the token before (only when there is one).
std::string_view WhitespaceToken(std::string_view gap, bool at_text_start) {
  if (!at_text_start && !gap.empty() && gap[0] == ' ') gap.remove_prefix(1);
  return gap;
}

// Runs spaCy's sentencizer over the tokens of `text`: `words` plus the whitespace tokens implied by
// the gaps between them. Calls emit(begin, end, first_word, num_words) for every sentence, with
// [begin, end) its byte range (from its first to its last token, whitespace tokens included) and
// the words it holds.
template <typename Emit>
void Sentencize(std::string_view text, std::span<const std::string_view> words, Emit emit) {
  bool seen_end = false;
  bool open = false;  // a sentence has started
  size_t begin = 0, end = 0, first = 0, count = 0;
  auto visit = [&](std::string_view token, bool whitespace, size_t w) {
    const bool end_char = !whitespace && IsSentenceEnd(token);
    const size_t token_begin = token.data() - text.data();
    if (!open) {
      open = true;
      begin = token_begin;
    }
    if (seen_end && !end_char && (whitespace || !IsPunctToken(token))) {
      emit(begin, end, first, count);
      begin = token_begin;
      count = 0;
      seen_end = false;
    } else if (end_char) {
      seen_end = true;
    }
    end = token_begin + token.size();
    if (!whitespace) {
      if (count == 0) first = w;
      ++count;
    }
  };
  const char* prev_end = text.data();
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string_view gap(prev_end, words[w].data() - prev_end);
    const std::string_view ws = WhitespaceToken(gap, w == 0);
    if (!ws.empty()) visit(ws, true, w);
    visit(words[w], false, w);
    prev_end = words[w].data() + words[w].size();
  }
  const std::string_view tail(prev_end, text.data() + text.size() - prev_end);
  const std::string_view ws = WhitespaceToken(tail, words.empty());
  if (!ws.empty()) visit(ws, true, words.size());
  if (open) emit(begin, end, first, count);
}

uint64_t HashText(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
  }
  for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
  return h ^ (h >> 29);
}

}  // namespace

void SplitWords(std::string_view text, std::vector<std::string_view>* words) {
  GetTokenizer().Split(text, words);
}

std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  SplitWords(text, &words);
  return words;
}

namespace {

struct WordsCache {
  const char* data = nullptr;
  size_t size = 0;
  uint64_t hash = 0;
  bool valid = false;
  std::vector<std::string_view> words;
};
thread_local WordsCache words_cache;

}  // namespace

const std::vector<std::string_view>& SplitWordsCached(std::string_view text) {
  WordsCache& cache = words_cache;
  const uint64_t hash = HashText(text);
  if (!cache.valid || cache.data != text.data() || cache.size != text.size() ||
      cache.hash != hash) {
    SplitWords(text, &cache.words);
    cache.data = text.data();
    cache.size = text.size();
    cache.hash = hash;
    cache.valid = true;
  }
  return cache.words;
}

void PrimeWordsCache(std::string_view text, std::vector<std::string_view>* words) {
  WordsCache& cache = words_cache;
  cache.words.swap(*words);
  cache.data = text.data();
  cache.size = text.size();
  cache.hash = HashText(text);
  cache.valid = true;
}

int CountSentenceSpans(std::string_view text, std::span<const std::string_view> words) {
  int n = 0;
  Sentencize(text, words, [&](size_t, size_t, size_t, size_t) { ++n; });
  return n;
}

std::vector<std::string_view> SplitSentences(std::string_view text) {
  std::vector<std::string_view> words;
  SplitWords(text, &words);
  std::vector<std::string_view> sentences;
  Sentencize(text, words, [&](size_t, size_t, size_t first, size_t count) {
    if (count == 0) return;
    const std::string_view last = words[first + count - 1];
    const char* begin = words[first].data();
    sentences.emplace_back(begin, last.data() + last.size() - begin);
  });
  return sentences;
}

int CountSentences(std::string_view text) {
  thread_local std::vector<std::string_view> words;
  SplitWords(text, &words);
  int n = 0;
  Sentencize(text, words, [&](size_t, size_t, size_t, size_t count) { n += count > 0; });
  return n;
}

void SentenceSpans(std::string_view text, std::vector<std::pair<size_t, size_t>>* spans) {
  spans->clear();
  thread_local std::vector<std::string_view> words;
  SplitWords(text, &words);
  Sentencize(text, words,
             [&](size_t begin, size_t end, size_t, size_t) { spans->emplace_back(begin, end); });
}

}  // namespace winnow::pipeline
