#include "pipeline/warc/http_response.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "pipeline/warc/internal/text.h"

namespace winnow::pipeline {
namespace {

using internal::EqualsIgnoreCase;
using internal::Trim;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a chunk-size line at body[*pos]: hex digits, optional ";ext" or blanks, then CRLF or LF.
bool ChunkSizeLine(std::string_view body, size_t* pos, uint64_t* size) {
  size_t i = *pos;
  uint64_t value = 0;
  size_t digits = 0;
  while (i < body.size() && HexValue(body[i]) >= 0) {
    if (++digits > 15) return false;
    value = value * 16 + static_cast<uint64_t>(HexValue(body[i]));
    ++i;
  }
  if (digits == 0) return false;
  if (i < body.size() && (body[i] == ';' || body[i] == ' ' || body[i] == '\t')) {
    const size_t nl = body.find('\n', i);
    if (nl == std::string_view::npos || nl - i > 1024) return false;
    i = nl;
  } else if (i < body.size() && body[i] == '\r') {
    ++i;
  }
  if (i >= body.size() || body[i] != '\n') return false;
  *pos = i + 1;
  *size = value;
  return true;
}

// Does the body start like a chunked body ("1a2b\r\n…")?
bool LooksChunked(std::string_view body) {
  size_t pos = 0;
  uint64_t size = 0;
  return ChunkSizeLine(body, &pos, &size);
}

enum class Decode { kOk, kTruncated, kFailed };

// Dechunks `body` into *out. A body cut inside a chunk (a truncated record) keeps what is there;
// chunk sizes that do not line up with the CRLFs fail.
Decode Dechunk(std::string_view body, size_t max_bytes, std::string* out) {
  out->clear();
  size_t pos = 0;
  while (true) {
    uint64_t size = 0;
    if (pos >= body.size()) return Decode::kTruncated;  // no last-chunk
    if (!ChunkSizeLine(body, &pos, &size)) return Decode::kFailed;
    if (size == 0) return Decode::kOk;  // trailers, if any, are ignored
    const size_t take = static_cast<size_t>(std::min<uint64_t>(size, body.size() - pos));
    if (out->size() + take > max_bytes) {
      out->append(body.substr(pos, max_bytes - out->size()));
      return Decode::kTruncated;
    }
    out->append(body.substr(pos, take));
    pos += take;
    if (take < size) return Decode::kTruncated;
    if (pos == body.size()) return Decode::kTruncated;
    if (body[pos] != '\r') return Decode::kFailed;  // the chunk size was wrong
    if (++pos == body.size()) return Decode::kTruncated;
    if (body[pos] != '\n') return Decode::kFailed;
    ++pos;
  }
}

// Inflates with zlib (window_bits: 31 gzip, 15 zlib, -15 raw deflate) into *out, at most `limit`
// bytes.
Decode Inflate(std::string_view in, int window_bits, size_t limit, std::string* out) {
  out->clear();
  z_stream zs = {};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Decode::kFailed;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), 1u << 30));
  size_t used = 0;
  int ret = Z_OK;
  while (true) {
    if (used == out->size()) {
      if (used >= limit) break;
      out->resize(std::min(limit, std::max<size_t>(out->size() * 2, in.size() * 4 + 4096)));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + used);
    zs.avail_out = static_cast<uInt>(out->size() - used);
    const uInt before = zs.avail_out;
    ret = inflate(&zs, Z_NO_FLUSH);
    used += before - zs.avail_out;
    if (ret != Z_OK) break;
    if (zs.avail_in == 0 && zs.avail_out > 0) break;  // needs input that is not there
  }
  inflateEnd(&zs);
  out->resize(used);
  if (ret == Z_STREAM_END) return Decode::kOk;
  if (used == 0) return Decode::kFailed;
  return Decode::kTruncated;  // cut input, the size bound, or corrupt data after a good start
}

bool LooksGzip(std::string_view body) {
  return body.size() >= 3 && body[0] == '\x1f' && body[1] == '\x8b' && body[2] == '\x08';
}

bool LooksZlib(std::string_view body) {
  if (body.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(body[0]);
  const auto flg = static_cast<unsigned char>(body[1]);
  return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

// Control bytes (other than whitespace) in the first 512 bytes: compressed, not text.
bool LooksBinary(std::string_view body) {
  const std::string_view head = body.substr(0, 512);
  size_t control = 0;
  for (char ch : head) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return true;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') ++control;
  }
  return control * 20 > head.size();
}

void ParseContentType(std::string_view value, HttpResponse* response) {
  const size_t semi = value.find(';');
  response->content_type = internal::ToLower(Trim(value.substr(0, semi)));
  while (semi != std::string_view::npos && response->charset.empty()) {
    value = value.substr(semi + 1);
    const size_t next = value.find(';');
    const std::string_view param = value.substr(0, next);
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && EqualsIgnoreCase(Trim(param.substr(0, eq)), "charset")) {
      std::string_view charset = Trim(param.substr(eq + 1));
      if (charset.size() >= 2 && (charset.front() == '"' || charset.front() == '\'')) {
        charset = charset.substr(1, charset.size() - 2);
      }
      response->charset = internal::ToLower(Trim(charset));
    }
    if (next == std::string_view::npos) break;
    value = value.substr(next);
  }
}

void DecodeContent(std::string_view encoding, const HttpResponseOptions& options,
                   HttpResponse* response) {
  const std::string coding = internal::ToLower(Trim(encoding));
  if (coding.empty() || coding == "identity") return;
  std::string& body = response->body;
  const size_t limit =
      std::min(options.max_body_bytes, options.max_inflate_ratio * body.size() + (1 << 20));
  int window_bits = 0;
  if (coding == "gzip" || coding == "x-gzip") {
    if (!LooksGzip(body)) return;  // stored already decoded
    window_bits = 16 + 15;
  } else if (coding == "deflate") {
    if (LooksZlib(body)) {
      window_bits = 15;
    } else if (LooksBinary(body)) {
      window_bits = -15;
    } else {
      return;
    }
  } else {
    if (LooksBinary(body)) response->content_encoding = coding;  // br, zstd, …: not decodable
    return;
  }
  std::string out;
  const Decode result = Inflate(body, window_bits, limit, &out);
  if (result == Decode::kFailed) {
    response->content_encoding = coding;
    return;
  }
  body = std::move(out);
  response->inflated = true;
  if (result == Decode::kTruncated) response->truncated = true;
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

absl::StatusOr<HttpResponse> ParseHttpResponse(std::string_view block,
                                               const HttpResponseOptions& options) {
  while (!block.empty() && (block.front() == '\r' || block.front() == '\n')) block.remove_prefix(1);
  if (!internal::StartsWithIgnoreCase(block, "HTTP/")) {
    return absl::InvalidArgumentError("not an HTTP response: no status line");
  }
  HttpResponse response;
  size_t pos = block.find('\n');
  const std::string_view status_line = Trim(block.substr(0, pos));
  pos = pos == std::string_view::npos ? block.size() : pos + 1;
  // "HTTP/1.1 200 OK", "HTTP/1.0 302 " and "HTTP/1.1 200" are all fine.
  const size_t space = status_line.find(' ');
  if (space == std::string_view::npos) {
    return absl::InvalidArgumentError("not an HTTP response: no status code");
  }
  const std::string_view code = Trim(status_line.substr(space + 1)).substr(0, 3);
  if (code.size() != 3 ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError("not an HTTP response: bad status code");
  }
  response.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');

  // Header lines up to the first empty line; a block without one is all headers.
  size_t body_start = block.size();
  while (pos < block.size()) {
    size_t end = block.find('\n', pos);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(pos, end - pos);
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = std::min(end + 1, block.size());
    if (line.empty()) {
      body_start = pos;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !response.headers.empty()) {
      response.headers.back().second.append(" ").append(Trim(line));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    response.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                  std::string(Trim(line.substr(colon + 1))));
  }
  ParseContentType(response.Header("Content-Type"), &response);

  const std::string_view raw = block.substr(body_start);
  response.body.assign(raw.substr(0, options.max_body_bytes));
  if (raw.size() > options.max_body_bytes) response.truncated = true;

  const std::string transfer = internal::ToLower(response.Header("Transfer-Encoding"));
  if (transfer.find("chunked") != std::string::npos && LooksChunked(raw)) {
    std::string out;
    const Decode result = Dechunk(raw, options.max_body_bytes, &out);
    if (result != Decode::kFailed) {  // wrong chunk sizes: keep the raw body
      response.body = std::move(out);
      response.dechunked = true;
      response.truncated = result == Decode::kTruncated;
    }
  }
  DecodeContent(response.Header("Content-Encoding"), options, &response);
  return response;
}

}  // namespace winnow::pipeline
