// pipeline/warc/charset.h — page bytes in whatever charset → UTF-8.
//
// Order of evidence, as browsers do it: a byte-order mark; bytes that are valid UTF-8 (checked
// first, fast, since most of the web is UTF-8); the charset declared by HTTP; a <meta charset> or
// <meta http-equiv="content-type"> in the first 4 KiB; ICU's detector; windows-1252. Labels map to
// the encodings browsers really use (WHATWG): iso-8859-1, latin1 and us-ascii mean windows-1252,
// gb2312 and gbk mean GB18030, shift_jis means windows-31j, euc-kr means windows-949, and so on.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace winnow::pipeline {

// Decodes `bytes` to UTF-8 (a UTF-8 BOM is stripped). `declared_charset` is the HTTP charset
// parameter, "" when there is none. Fails (callers drop the page as "decode_error") only when no
// candidate charset decodes the bytes without too many invalid sequences or control characters.
absl::StatusOr<std::string> DecodeToUtf8(std::string_view bytes, std::string_view declared_charset);

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// The charset named by a <meta charset=…> or <meta http-equiv=content-type content="…charset=…">
// in the first 4 KiB of `html`, lower-cased; "" when there is none.
std::string SniffMetaCharset(std::string_view html);

}  // namespace winnow::pipeline
