// pipeline/warc/warc_reader.h — WARC and ARC records out of a crawl file, whatever state it is in.
//
// Reads WARC/1.0, WARC/1.1, WARC/0.18 (ClueWeb09, LF-only lines tolerated) and ARC v1/v2 files,
// plain or gzipped (one member per record as Common Crawl writes them, or one stream for the whole
// file). Damage is data, not an error: a record that cannot be read is counted and skipped, and
// reading resumes at the next record start.
//
// Damage reasons, counted as "read/damaged/<reason>" (each damage event once):
//   truncated_gzip    the input ends inside a gzip member; a record cut by it is returned with
//                     truncated = true
//   gzip_corrupt      a bad gzip header, invalid deflate data or a CRC mismatch; the record it cuts
//                     is skipped and reading resumes at the next gzip member
//   gzip_garbage      bytes between gzip members that are not a gzip header; skipped
//   truncated_record  the input ends inside a record: a record with a complete header is returned
//                     with truncated = true, one with a partial header is skipped
//   bad_header        a record header that cannot be used (no or invalid Content-Length / ARC
//                     length, longer than max_header_bytes); the record is skipped
//   garbage           bytes between records that do not start a record (e.g. after a too-small
//                     Content-Length); skipped up to the next "WARC/" line (ARC: header line)
// Also counted: "read/records" for every record returned or skipped, and
// "read/repaired/content_length" when a Content-Length ran past the next record's start: the block
// is cut there, the record returned with truncated = true, and the next record read normally.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/byte_stream.h"
#include "pipeline/stats.h"
#include "pipeline/warc/gzip_reader.h"

namespace winnow::pipeline {

struct WarcRecord {
  std::string version;  // "WARC/1.0", "WARC/1.1", "WARC/0.18", or "ARC"
  std::string type;     // WARC-Type lower-cased ("response", "request", "metadata", "revisit",
                        // "warcinfo", "conversion", "resource", …); ARC: "response", and
                        // "warcinfo" for the filedesc:// header record
  // WARC header fields in order. ARC records get WARC-Target-URI, WARC-Date, WARC-IP-Address,
  // Content-Type and Content-Length built from their header line.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string record_id;   // WARC-Record-ID ("" for ARC, which has none)
  std::string target_uri;  // WARC-Target-URI without surrounding <>, spaces kept
  std::string date;        // WARC-Date (ARC: the 14-digit date as ISO 8601, "…Z")
  std::string block;       // content block (response: HTTP status line, headers and body), capped
  // Offset of the record's first byte in the input; for .gz the compressed offset of the gzip
  // member that starts with the record. A record that does not start its own member (a file
  // gzipped as one stream) gets its member's offset, raised where needed so that offsets stay
  // strictly increasing within a file (they are document keys).
  uint64_t offset = 0;
  bool truncated = false;  // WARC-Truncated present, block shorter than Content-Length, or capped

  // The first header field with this name (case-insensitive); "" if absent.
  std::string_view Header(std::string_view name) const;
};

struct RecordReaderOptions {
  size_t max_record_bytes = 16 << 20;  // blocks are cut here (truncated = true), the rest skipped
  size_t max_header_bytes = 1 << 20;   // a longer WARC header is "bad_header"
  size_t buffer_bytes = 1 << 20;       // uncompressed read-ahead buffer
  GzipReaderOptions gzip;              // compressed-input buffering
};

class RecordReader {
 public:
  // Sniffs gzip/plain and WARC/ARC from the first bytes (on the first Next call).
  static std::unique_ptr<RecordReader> Open(std::unique_ptr<ByteStream> input,
                                            RecordReaderOptions options = {});
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Fills *record with the next record; false at the end. Damaged records and damaged stretches
  // of the file are counted in *stats under "read/damaged/<reason>" (see above) and skipped;
  // every record returned or skipped is counted as "read/records". Only an I/O failure of the
  // underlying stream returns an error.
  absl::StatusOr<bool> Next(WarcRecord* record, Stats* stats);

  // The input's name (path or URL), for messages.
  const std::string& name() const;

 private:
  class Impl;
  explicit RecordReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace winnow::pipeline
