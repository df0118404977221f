#include "filters/pii.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace winnow::filters {
namespace {

// ---- Patterns -----------------------------------------------------------------------------------
// An IPv4 octet, 0-255, tried in this order (so "255" is one octet, not "25" then "5").
#define WINNOW_OCTET "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
// Characters of an unquoted local part (RFC 5322 atext), and the same without the word characters.
#define WINNOW_ATEXT "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
#define WINNOW_ATEXT_SYMBOL "[!#$%&'*+/=?^`{|}~-]"
// A DNS label: alphanumerics, inner hyphens.
#define WINNOW_LABEL "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
// After the local part's first character: dot-separated atoms, "@", then dotted labels (two at
// least) or a bracketed address literal.
#define WINNOW_EMAIL_TAIL                                                            \
  WINNOW_ATEXT "*(?:\\." WINNOW_ATEXT "+)*@(?:(?:" WINNOW_LABEL "\\.)+" WINNOW_LABEL \
               "|\\[(?:" WINNOW_OCTET "\\.){3}(?:" WINNOW_OCTET "|[A-Za-z0-9-]*[A-Za-z0-9]:)\\])"

// The address must start at a word boundary in the Unicode sense (Python's \b): a word character
// first needs a non-word character (or the start) before it, a symbol first needs a word character
// before it. RE2 has no look-behind, so the character before is part of the match and the address
// is capture group 1 or 2.
constexpr char kEmailPattern[] = "(?:^|[^\\pL\\pN_])([A-Za-z0-9_]" WINNOW_EMAIL_TAIL
                                 ")|[\\pL\\pN_](" WINNOW_ATEXT_SYMBOL WINNOW_EMAIL_TAIL ")";
constexpr char kIpv4Pattern[] = "(?:" WINNOW_OCTET "\\.){3}" WINNOW_OCTET;
constexpr char kIpv6Pattern[] =
    "(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4})?";
constexpr char kIbanPattern[] = "\\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\\b";
constexpr char kCardPattern[] = "\\b(?:[0-9][ -]?){12,18}[0-9]\\b";
constexpr char kPhonePattern[] =
    "(?:\\+[0-9]{1,3}[ .-]?)?(?:\\([0-9]{1,4}\\)[ .-]?)?[0-9]{1,4}(?:[ .-][0-9]{1,5}){0,5}";

#undef WINNOW_EMAIL_TAIL
#undef WINNOW_LABEL
#undef WINNOW_ATEXT_SYMBOL
#undef WINNOW_ATEXT
#undef WINNOW_OCTET

const RE2& Compiled(const char* pattern) {
  RE2::Options options;
  options.set_max_mem(64 << 20);
  options.set_log_errors(false);
  return *new RE2(pattern, options);
}

const RE2& EmailRe() {
  static const RE2& re = Compiled(kEmailPattern);
  return re;
}
const RE2& Ipv4Re() {
  static const RE2& re = Compiled(kIpv4Pattern);
  return re;
}
const RE2& Ipv6Re() {
  static const RE2& re = Compiled(kIpv6Pattern);
  return re;
}
const RE2& IbanRe() {
  static const RE2& re = Compiled(kIbanPattern);
  return re;
}
const RE2& CardRe() {
  static const RE2& re = Compiled(kCardPattern);
  return re;
}
const RE2& PhoneRe() {
  static const RE2& re = Compiled(kPhonePattern);
  return re;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// ---- Validators ---------------------------------------------------------------------------------

bool InNet(uint32_t address, uint32_t net, int prefix) {
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (address & mask) == (net & mask);
}
constexpr uint32_t Ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return a << 24 | b << 16 | c << 8 | d;
}

// Python's ipaddress.IPv4Address.is_global (IANA special-purpose registry, as of Python 3.13).
bool IsGlobalIpv4(uint32_t a) {
  struct Net {
    uint32_t net;
    int prefix;
  };
  static constexpr Net kNotGlobal[] = {
      {Ip(0, 0, 0, 0), 8},       {Ip(10, 0, 0, 0), 8},        {Ip(100, 64, 0, 0), 10},
      {Ip(127, 0, 0, 0), 8},     {Ip(169, 254, 0, 0), 16},    {Ip(172, 16, 0, 0), 12},
      {Ip(192, 0, 2, 0), 24},    {Ip(192, 168, 0, 0), 16},    {Ip(198, 18, 0, 0), 15},
      {Ip(198, 51, 100, 0), 24}, {Ip(203, 0, 113, 0), 24},    {Ip(240, 0, 0, 0), 4},
      {Ip(192, 0, 0, 170), 31},  {Ip(255, 255, 255, 255), 32}};
  for (const Net& n : kNotGlobal) {
    if (InNet(a, n.net, n.prefix)) return false;
  }
  // 192.0.0.0/24 is IETF protocol assignments, except two globally reachable anycast addresses.
  if (InNet(a, Ip(192, 0, 0, 0), 24)) return a == Ip(192, 0, 0, 9) || a == Ip(192, 0, 0, 10);
  return true;
}

// Dotted quad to integer as Python's ip_address accepts it: 0-255, no leading zeros.
bool ParseIpv4(std::string_view s, uint32_t* out) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t begin = i;
    uint32_t octet = 0;
    while (i < s.size() && IsDigit(s[i]) && i - begin < 3) octet = octet * 10 + (s[i++] - '0');
    const size_t len = i - begin;
    if (len == 0 || octet > 255 || (len > 1 && s[begin] == '0')) return false;
    value = value << 8 | octet;
    ++parts;
    if (parts < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  if (i != s.size()) return false;
  *out = value;
  return true;
}

bool IsGlobalIpv6(const std::array<uint8_t, 16>& a) {
  auto prefix = [&](std::initializer_list<uint8_t> bytes, int bits) {
    int i = 0;
    for (uint8_t b : bytes) {
      const int take = std::min(8, bits - 8 * i);
      if (take <= 0) break;
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - take));
      if ((a[i] & mask) != (b & mask)) return false;
      ++i;
    }
    return true;
  };
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 rule.
  if (prefix({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96)) {
    return IsGlobalIpv4(Ip(a[12], a[13], a[14], a[15]));
  }
  bool zero_head = prefix({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 120);
  if (zero_head && a[15] <= 1) return false;                    // :: and ::1
  return !(prefix({0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48) ||  // local-use NAT64
           prefix({0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64) ||        // discard-only
           prefix({0x20, 0x01, 0x0d, 0xb8}, 32) ||              // documentation
           prefix({0x20, 0x01, 0x00}, 23) ||                    // IETF protocol assignments
           prefix({0xfc}, 7) ||                                 // unique local
           prefix({0xfe, 0x80}, 10) ||                          // link-local
           prefix({0xfe, 0xc0}, 10) ||                          // site-local (deprecated)
           prefix({0xff}, 8));                                  // multicast
}

bool Mod97IsOne(std::string_view compact) {
  // Move the first four characters to the end, letters to 10..35, remainder mod 97.
  const std::string rearranged = std::string(compact.substr(4)) + std::string(compact.substr(0, 4));
  int remainder = 0;
  for (char c : rearranged) {
    if (IsDigit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return remainder == 1;
}

bool LuhnValid(std::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return sum % 10 == 0;
}

// Issuer prefixes and lengths of the major card networks.
bool KnownCardNumber(std::string_view d) {
  const size_t n = d.size();
  auto starts = [&](int lo, int hi, int width) {
    if (n < static_cast<size_t>(width)) return false;
    const int head = std::stoi(std::string(d.substr(0, width)));
    return head >= lo && head <= hi;
  };
  if (starts(4, 4, 1)) return n == 13 || n == 16 || n == 19;                // Visa
  if (starts(51, 55, 2) || starts(2221, 2720, 4)) return n == 16;           // Mastercard
  if (starts(34, 34, 2) || starts(37, 37, 2)) return n == 15;               // Amex
  if (starts(6011, 6011, 4) || starts(65, 65, 2) || starts(644, 649, 3)) {  // Discover
    return n >= 16 && n <= 19;
  }
  if (starts(3528, 3589, 4)) return n >= 16 && n <= 19;                 // JCB
  if (starts(300, 305, 3) || starts(36, 36, 2) || starts(38, 39, 2)) {  // Diners
    return n >= 14 && n <= 19;
  }
  if (starts(62, 62, 2)) return n >= 16 && n <= 19;  // UnionPay
  return false;
}

std::string DigitsOf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (IsDigit(c)) out.push_back(c);
  }
  return out;
}

// ---- The replacement loop -----------------------------------------------------------------------

// Replaces every match of `re` that `valid(text, begin, end)` accepts with the next replacement.
// The span is the first capture group that matched, else the whole match. `lookbehind`: the match
// may begin with one context character, so the next search resumes one byte before the end.
template <typename Valid>
std::string ReplaceAll(std::string_view text, const RE2& re, bool lookbehind,
                       const std::vector<std::string>& replacements, int* count, Valid&& valid) {
  const int groups = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> match(groups + 1);
  const re2::StringPiece input(text.data(), text.size());
  std::string out;
  size_t copied = 0, pos = 0, next = 0;
  while (pos <= text.size() &&
         re.Match(input, pos, text.size(), RE2::UNANCHORED, match.data(), groups + 1)) {
    re2::StringPiece span = match[0];
    for (int g = 1; g <= groups; ++g) {
      if (match[g].data() != nullptr) {
        span = match[g];
        break;
      }
    }
    const size_t begin = span.data() - text.data();
    const size_t end = begin + span.size();
    const size_t match_end = match[0].data() - text.data() + match[0].size();
    if (end == begin) {  // an empty match: step over one byte
      pos = match_end + 1;
      continue;
    }
    if (valid(text, begin, end)) {
      out.append(text.data() + copied, begin - copied);
      out.append(replacements[next]);
      next = (next + 1) % replacements.size();
      copied = end;
      ++*count;
    }
    pos = lookbehind ? match_end - 1 : match_end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.data() + copied, text.size() - copied);
  return out;
}

}  // namespace

void BindParams(PiiOptions* options, ParamBinder* binder) {
  binder->Bool("remove_emails", &options->remove_emails);
  binder->Bool("remove_ips", &options->remove_ips);
  binder->Bool("only_remove_public_ips", &options->only_remove_public_ips);
  binder->StringList("email_replacement", &options->email_replacement);
  binder->StringList("ip_replacement", &options->ip_replacement);
  binder->Bool("remove_ipv6", &options->remove_ipv6);
  binder->StringList("ipv6_replacement", &options->ipv6_replacement);
  binder->Bool("remove_ibans", &options->remove_ibans);
  binder->StringList("iban_replacement", &options->iban_replacement);
  binder->Bool("remove_credit_cards", &options->remove_credit_cards);
  binder->StringList("credit_card_replacement", &options->credit_card_replacement);
  binder->Bool("remove_phone_numbers", &options->remove_phone_numbers);
  binder->StringList("phone_number_replacement", &options->phone_number_replacement);
}

absl::StatusOr<std::unique_ptr<PiiFormatter>> PiiFormatter::Create(PiiOptions options) {
  const std::pair<bool, const std::vector<std::string>*> kinds[] = {
      {options.remove_emails, &options.email_replacement},
      {options.remove_ips, &options.ip_replacement},
      {options.remove_ipv6, &options.ipv6_replacement},
      {options.remove_ibans, &options.iban_replacement},
      {options.remove_credit_cards, &options.credit_card_replacement},
      {options.remove_phone_numbers, &options.phone_number_replacement}};
  const char* names[] = {"email_replacement",       "ip_replacement",
                         "ipv6_replacement",        "iban_replacement",
                         "credit_card_replacement", "phone_number_replacement"};
  for (size_t i = 0; i < std::size(kinds); ++i) {
    if (kinds[i].first && kinds[i].second->empty()) {
      return absl::InvalidArgumentError(absl::StrCat("pii.", names[i], " must not be empty"));
    }
  }
  for (const RE2* re : {&EmailRe(), &Ipv4Re(), &Ipv6Re(), &IbanRe(), &CardRe(), &PhoneRe()}) {
    if (!re->ok()) {
      return absl::InternalError(absl::StrCat("pii: bad pattern: ", re->error()));
    }
  }
  return std::make_unique<PiiFormatter>(std::move(options));
}

PiiFormatter::PiiFormatter(PiiOptions options) : options_(std::move(options)) {}

std::string PiiFormatter::Redact(std::string_view input, PiiCounts* counts) const {
  PiiCounts local;
  PiiCounts& c = counts != nullptr ? *counts : local;
  c = PiiCounts();
  std::string text(input);
  const auto any = [](std::string_view, size_t, size_t) { return true; };
  // Not glued to more of the same kind of token on either side.
  const auto isolated = [](std::string_view t, size_t begin, size_t end, std::string_view also) {
    auto part = [&](char ch) {
      return IsAsciiAlnum(ch) || also.find(ch) != std::string_view::npos;
    };
    return (begin == 0 || !part(t[begin - 1])) && (end == t.size() || !part(t[end]));
  };
  if (options_.remove_emails) {
    text = ReplaceAll(text, EmailRe(), /*lookbehind=*/true, options_.email_replacement, &c.emails,
                      any);
  }
  if (options_.remove_ips) {
    const bool public_only = options_.only_remove_public_ips;
    text = ReplaceAll(text, Ipv4Re(), false, options_.ip_replacement, &c.ips,
                      [&](std::string_view t, size_t begin, size_t end) {
                        uint32_t address;
                        if (!ParseIpv4(t.substr(begin, end - begin), &address)) return false;
                        return !public_only || IsGlobalIpv4(address);
                      });
  }
  if (options_.remove_ipv6) {
    const bool public_only = options_.only_remove_public_ips;
    text = ReplaceAll(text, Ipv6Re(), false, options_.ipv6_replacement, &c.ipv6,
                      [&](std::string_view t, size_t begin, size_t end) {
                        if (!isolated(t, begin, end, ":")) return false;
                        const std::string candidate(t.substr(begin, end - begin));
                        std::array<uint8_t, 16> bytes;
                        if (inet_pton(AF_INET6, candidate.c_str(), bytes.data()) != 1) return false;
                        return !public_only || IsGlobalIpv6(bytes);
                      });
  }
  if (options_.remove_ibans) {
    text = ReplaceAll(text, IbanRe(), false, options_.iban_replacement, &c.ibans,
                      [](std::string_view t, size_t begin, size_t end) {
                        std::string compact;
                        for (char ch : t.substr(begin, end - begin)) {
                          if (ch != ' ') compact.push_back(ch);
                        }
                        return compact.size() >= 15 && compact.size() <= 34 && Mod97IsOne(compact);
                      });
  }
  if (options_.remove_credit_cards) {
    text = ReplaceAll(text, CardRe(), false, options_.credit_card_replacement, &c.credit_cards,
                      [](std::string_view t, size_t begin, size_t end) {
                        const std::string digits = DigitsOf(t.substr(begin, end - begin));
                        return KnownCardNumber(digits) && LuhnValid(digits);
                      });
  }
  if (options_.remove_phone_numbers) {
    text = ReplaceAll(
        text, PhoneRe(), false, options_.phone_number_replacement, &c.phone_numbers,
        [&](std::string_view t, size_t begin, size_t end) {
          // Not part of a longer token; a full stop may follow (the sentence's end).
          if (begin > 0 &&
              (IsAsciiAlnum(t[begin - 1]) ||
               std::string_view("+-.(/_@").find(t[begin - 1]) != std::string_view::npos)) {
            return false;
          }
          if (end < t.size() && (IsAsciiAlnum(t[end]) ||
                                 std::string_view("-/_@").find(t[end]) != std::string_view::npos ||
                                 (t[end] == '.' && end + 1 < t.size() && IsDigit(t[end + 1])))) {
            return false;
          }
          const std::string_view s = t.substr(begin, end - begin);
          const size_t digits = DigitsOf(s).size();
          if (s.front() == '+') return digits >= 8 && digits <= 15;
          if (digits < 10 || digits > 15) return false;
          // Separated groups: not one bare run, and not thousands grouping ("1 000
          // 000 000").
          std::vector<size_t> groups{0};
          for (char ch : s) {
            if (IsDigit(ch)) {
              ++groups.back();
            } else if (groups.back() != 0) {
              groups.push_back(0);
            }
          }
          if (groups.size() < 2) return false;
          bool thousands = true;
          for (size_t g = 1; g < groups.size(); ++g) thousands = thousands && groups[g] == 3;
          return !thousands;
        });
  }
  return text;
}

pipeline::Verdict PiiFormatter::Check(pipeline::Document* doc) const {
  PiiCounts counts;
  std::string redacted = Redact(doc->text, &counts);
  const std::pair<const char*, int> fields[] = {{"pii_emails", counts.emails},
                                                {"pii_ips", counts.ips},
                                                {"pii_ipv6", counts.ipv6},
                                                {"pii_ibans", counts.ibans},
                                                {"pii_credit_cards", counts.credit_cards},
                                                {"pii_phone_numbers", counts.phone_numbers}};
  bool changed = false;
  for (const auto& [key, n] : fields) {
    if (n > 0) {
      doc->metadata[key] = n;
      changed = true;
    }
  }
  if (changed) doc->text = std::move(redacted);
  return pipeline::Verdict::Keep();
}

}  // namespace winnow::filters
