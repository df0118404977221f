#include "pipeline/warc/charset.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ucsdet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/warc/internal/text.h"

namespace winnow::pipeline {
namespace {

constexpr size_t kMetaSniffBytes = 4096;
constexpr size_t kDetectBytes = 64 << 10;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// WHATWG label → the ICU converter browsers' decoder corresponds to. Labels not listed go to ICU
// as they are (it knows most IANA names and aliases).
std::string CanonicalCharset(std::string_view label) {
  std::string name = internal::ToLower(internal::Trim(label));
  while (!name.empty() && (name.front() == '"' || name.front() == '\'')) name.erase(0, 1);
  while (!name.empty() && (name.back() == '"' || name.back() == '\'')) name.pop_back();
  struct Alias {
    std::string_view label;
    std::string_view icu;
  };
  static constexpr Alias kAliases[] = {
      {"utf-8", "UTF-8"},
      {"utf8", "UTF-8"},
      {"unicode-1-1-utf-8", "UTF-8"},
      {"us-ascii", "windows-1252"},
      {"ascii", "windows-1252"},
      {"ansi_x3.4-1968", "windows-1252"},
      {"iso-8859-1", "windows-1252"},
      {"iso8859-1", "windows-1252"},
      {"iso_8859-1", "windows-1252"},
      {"iso-ir-100", "windows-1252"},
      {"latin1", "windows-1252"},
      {"l1", "windows-1252"},
      {"cp819", "windows-1252"},
      {"ibm819", "windows-1252"},
      {"csisolatin1", "windows-1252"},
      {"cp1252", "windows-1252"},
      {"x-cp1252", "windows-1252"},
      {"x-user-defined", "windows-1252"},
      {"gb2312", "GB18030"},
      {"gb_2312", "GB18030"},
      {"gb_2312-80", "GB18030"},
      {"csgb2312", "GB18030"},
      {"euc-cn", "GB18030"},
      {"iso-ir-58", "GB18030"},
      {"chinese", "GB18030"},
      {"gbk", "GB18030"},
      {"x-gbk", "GB18030"},
      {"cp936", "GB18030"},
      {"ms936", "GB18030"},
      {"windows-936", "GB18030"},
      {"gb18030", "GB18030"},
      {"shift_jis", "windows-31j"},
      {"shift-jis", "windows-31j"},
      {"sjis", "windows-31j"},
      {"x-sjis", "windows-31j"},
      {"ms_kanji", "windows-31j"},
      {"csshiftjis", "windows-31j"},
      {"ms932", "windows-31j"},
      {"cp932", "windows-31j"},
      {"windows-31j", "windows-31j"},
      {"euc-jp", "EUC-JP"},
      {"x-euc-jp", "EUC-JP"},
      {"cseucpkdfmtjapanese", "EUC-JP"},
      {"euc-kr", "windows-949"},
      {"ks_c_5601-1987", "windows-949"},
      {"ksc5601", "windows-949"},
      {"ksc_5601", "windows-949"},
      {"korean", "windows-949"},
      {"cp949", "windows-949"},
      {"big5", "Big5-HKSCS"},
      {"big5-hkscs", "Big5-HKSCS"},
      {"x-x-big5", "Big5-HKSCS"},
      {"cn-big5", "Big5-HKSCS"},
      {"iso-8859-9", "windows-1254"},
      {"latin5", "windows-1254"},
      {"tis-620", "windows-874"},
      {"iso-8859-11", "windows-874"},
  };
  for (const Alias& alias : kAliases) {
    if (name == alias.label) return std::string(alias.icu);
  }
  return name;
}

bool IsUtf16Or32(std::string_view canonical) {
  return internal::StartsWithIgnoreCase(canonical, "utf-16") ||
         internal::StartsWithIgnoreCase(canonical, "utf-32") ||
         internal::StartsWithIgnoreCase(canonical, "ucs-");
}

struct Closer {
  void operator()(UConverter* c) const { ucnv_close(c); }
  void operator()(UCharsetDetector* d) const { ucsdet_close(d); }
};

// Counts invalid or unmapped input sequences, then substitutes U+FFFD as ICU's default does.
void CountingToUCallback(const void* context, UConverterToUnicodeArgs* args, const char* code_units,
                         int32_t length, UConverterCallbackReason reason, UErrorCode* error) {
  if (reason == UCNV_UNASSIGNED || reason == UCNV_ILLEGAL || reason == UCNV_IRREGULAR) {
    ++*static_cast<int64_t*>(const_cast<void*>(context));
  }
  UCNV_TO_U_CALLBACK_SUBSTITUTE(nullptr, args, code_units, length, reason, error);
}

struct Converted {
  std::string utf8;
  int64_t bad = 0;  // invalid sequences plus control characters: the quality of the guess
};

std::optional<Converted> Convert(std::string_view bytes, const std::string& charset) {
  UErrorCode error = U_ZERO_ERROR;
  std::unique_ptr<UConverter, Closer> source(ucnv_open(charset.c_str(), &error));
  if (U_FAILURE(error) || source == nullptr) return std::nullopt;
  std::unique_ptr<UConverter, Closer> target(ucnv_open("UTF-8", &error));
  if (U_FAILURE(error) || target == nullptr) return std::nullopt;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max() / 4)) {
    return std::nullopt;
  }
  Converted out;
  ucnv_setToUCallBack(source.get(), CountingToUCallback, &out.bad, nullptr, nullptr, &error);
  if (U_FAILURE(error)) return std::nullopt;
  size_t capacity = bytes.size() * 3 + 16;
  while (true) {
    out.utf8.resize(capacity);
    out.bad = 0;
    error = U_ZERO_ERROR;
    char* out_ptr = out.utf8.data();
    const char* in_ptr = bytes.data();
    ucnv_convertEx(target.get(), source.get(), &out_ptr, out.utf8.data() + out.utf8.size(), &in_ptr,
                   bytes.data() + bytes.size(), nullptr, nullptr, nullptr, nullptr,
                   /*reset=*/true, /*flush=*/true, &error);
    if (error == U_BUFFER_OVERFLOW_ERROR) {
      capacity *= 2;
      continue;
    }
    if (U_FAILURE(error)) return std::nullopt;
    out.utf8.resize(static_cast<size_t>(out_ptr - out.utf8.data()));
    break;
  }
  // Control characters (C0 other than whitespace, C1) mean the bytes were not text in `charset`.
  const std::string& s = out.utf8;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') ||
        (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0)) {
      ++out.bad;
    }
  }
  return out;
}

size_t FindIgnoreCase(std::string_view haystack, std::string_view needle, size_t from) {
  for (size_t i = from; i + needle.size() <= haystack.size(); ++i) {
    if (internal::EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

// The page's text for the detector: markup, scripts, styles and comments would outvote the few
// words that show the charset.
std::string DetectionSample(std::string_view html) {
  std::string out;
  size_t i = 0;
  while (i < html.size() && out.size() < kDetectBytes) {
    const size_t lt = html.find('<', i);
    const size_t text_end = lt == std::string_view::npos ? html.size() : lt;
    out.append(html.substr(i, std::min(text_end - i, kDetectBytes - out.size())));
    if (lt == std::string_view::npos) break;
    std::string_view close = ">";
    if (internal::StartsWithIgnoreCase(html.substr(lt), "<script")) {
      close = "</script";
    } else if (internal::StartsWithIgnoreCase(html.substr(lt), "<style")) {
      close = "</style";
    } else if (html.substr(lt, 4) == "<!--") {
      close = "-->";
    }
    const size_t end = close == ">" ? html.find('>', lt) : FindIgnoreCase(html, close, lt + 1);
    if (end == std::string_view::npos) break;
    i = close == ">" ? end + 1 : html.find('>', end);
    if (i == std::string_view::npos) break;
    if (close != ">") ++i;
    out.push_back(' ');
  }
  return out;
}

std::string Detect(std::string_view bytes) {
  UErrorCode error = U_ZERO_ERROR;
  std::unique_ptr<UCharsetDetector, Closer> detector(ucsdet_open(&error));
  if (U_FAILURE(error)) return "";
  std::string sample = DetectionSample(bytes);
  if (sample.size() < 64) sample.assign(bytes.substr(0, kDetectBytes));  // not markup after all
  ucsdet_setText(detector.get(), sample.data(), static_cast<int32_t>(sample.size()), &error);
  const UCharsetMatch* match = ucsdet_detect(detector.get(), &error);
  if (U_FAILURE(error) || match == nullptr) return "";
  const char* name = ucsdet_getName(match, &error);
  if (U_FAILURE(error) || name == nullptr) return "";
  return name;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    // ASCII runs, 16 bytes at a time.
    while (i + 16 <= n) {
      uint64_t a;
      uint64_t b;
      std::memcpy(&a, p + i, 8);
      std::memcpy(&b, p + i + 8, 8);
      if (((a | b) & 0x8080808080808080ULL) != 0) break;
      i += 16;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlongs
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlongs
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
      return false;
    }
    if (i + len > n) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

std::string SniffMetaCharset(std::string_view html) {
  html = html.substr(0, kMetaSniffBytes);
  size_t at = 0;
  while ((at = FindIgnoreCase(html, "<meta", at)) != std::string_view::npos) {
    size_t end = html.find('>', at);
    if (end == std::string_view::npos) end = html.size();
    const std::string_view tag = html.substr(at, end - at);
    at += 5;
    // Both forms carry "charset" then "=": <meta charset="x"> and content="text/html; charset=x".
    size_t c = 0;
    while ((c = FindIgnoreCase(tag, "charset", c)) != std::string_view::npos) {
      c += 7;
      size_t i = c;
      while (i < tag.size() && (tag[i] == ' ' || tag[i] == '\t')) ++i;
      if (i >= tag.size() || tag[i] != '=') continue;
      ++i;
      while (i < tag.size() &&
             (tag[i] == ' ' || tag[i] == '\t' || tag[i] == '"' || tag[i] == '\'')) {
        ++i;
      }
      size_t j = i;
      while (j < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[j])) || tag[j] == '-' ||
                                tag[j] == '_' || tag[j] == '.' || tag[j] == ':')) {
        ++j;
      }
      if (j > i) return internal::ToLower(tag.substr(i, j - i));
    }
  }
  return "";
}

absl::StatusOr<std::string> DecodeToUtf8(std::string_view bytes,
                                         std::string_view declared_charset) {
  if (bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
    bytes.remove_prefix(kUtf8Bom.size());
    declared_charset = "utf-8";  // the BOM wins over any declaration
  } else if (bytes.size() >= 2 &&
             (bytes.substr(0, 2) == "\xFF\xFE" || bytes.substr(0, 2) == "\xFE\xFF")) {
    std::optional<Converted> utf16 =
        Convert(bytes, bytes[0] == '\xFF' ? "UTF-16LE" : "UTF-16BE");  // ICU drops the BOM
    if (utf16.has_value()) {
      std::string& s = utf16->utf8;
      if (s.substr(0, kUtf8Bom.size()) == kUtf8Bom) s.erase(0, kUtf8Bom.size());
      return std::move(s);
    }
  }
  const std::string declared = CanonicalCharset(declared_charset);
  const bool has_escape = std::memchr(bytes.data(), 0x1B, bytes.size()) != nullptr;  // ISO-2022
  if (!IsUtf16Or32(declared) && !has_escape && IsValidUtf8(bytes)) return std::string(bytes);

  std::vector<std::string> candidates;
  auto add = [&candidates](std::string name) {
    if (name.empty()) return;
    if (std::find(candidates.begin(), candidates.end(), name) == candidates.end()) {
      candidates.push_back(std::move(name));
    }
  };
  add(declared);
  std::string meta = CanonicalCharset(SniffMetaCharset(bytes));
  if (IsUtf16Or32(meta)) meta = "UTF-8";  // a meta tag read as ASCII cannot be UTF-16 (WHATWG)
  add(meta);
  const std::string detected = CanonicalCharset(Detect(bytes));
  if (!IsUtf16Or32(detected)) add(detected);  // without a BOM, a UTF-16 guess fits any binary
  add("windows-1252");

  // The first candidate that decodes cleanly wins; otherwise the least bad one, within reason.
  const int64_t clean = static_cast<int64_t>(bytes.size() / 200);
  const int64_t tolerable = std::max<int64_t>(8, static_cast<int64_t>(bytes.size() / 20));
  std::optional<Converted> best;
  for (const std::string& candidate : candidates) {
    std::optional<Converted> converted = Convert(bytes, candidate);
    if (!converted.has_value()) continue;
    if (converted->bad <= clean) return std::move(converted->utf8);
    if (!best.has_value() || converted->bad < best->bad) best = std::move(converted);
  }
  if (best.has_value() && best->bad <= tolerable) return std::move(best->utf8);
  return absl::InvalidArgumentError("decode_error: no charset decodes these bytes as text");
}

}  // namespace winnow::pipeline
