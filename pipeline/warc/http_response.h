// pipeline/warc/http_response.h — the HTTP response inside a WARC/ARC response record's block.
//
// Bodies are decoded only when they still look encoded: Common Crawl stores bodies already
// dechunked and decompressed but keeps the original Transfer-Encoding / Content-Encoding headers in
// some snapshots (newer ones rename them X-Crawler-…). A body that claims to be chunked but whose
// chunk sizes do not add up, or a compressed body that does not inflate, is kept as it is.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace winnow::pipeline {

struct HttpResponseOptions {
  size_t max_body_bytes = 16 << 20;  // a decoded body is cut here (truncated = true)
  size_t max_inflate_ratio = 32;  // inflated size ≤ ratio × compressed size + 1 MiB (gzip bombs)
};

struct HttpResponse {
  int status = 0;                                            // 200, 404, …
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string content_type;  // Content-Type's media type, lower-cased, no parameters ("" if none)
  std::string charset;       // Content-Type's charset parameter, lower-cased ("" if none)
  std::string body;          // dechunked and inflated where it was still encoded
  // A content coding still applied to `body` ("br", or "gzip" when inflating failed); "" when
  // the body is plain.
  std::string content_encoding;
  bool dechunked = false;  // the body was chunked and has been dechunked
  bool inflated = false;   // a gzip/deflate content coding was undone
  bool truncated = false;  // the body ends early (cut chunk or stream, or a size bound)

  // The first header with this name (case-insensitive); "" if absent.
  std::string_view Header(std::string_view name) const;
};

// Parses "HTTP/x.y CODE [reason]", the header lines (CRLF or LF) and the body. InvalidArgument
// when the block does not start with an HTTP status line.
absl::StatusOr<HttpResponse> ParseHttpResponse(std::string_view block,
                                               const HttpResponseOptions& options = {});

}  // namespace winnow::pipeline
