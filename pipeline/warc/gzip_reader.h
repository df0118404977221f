// pipeline/warc/gzip_reader.h — gzip (or plain) bytes in, uncompressed chunks out, member by
// member.
//
// Common Crawl compresses every WARC record as its own gzip member, so the compressed offset at
// which a member starts is the record's address in the file. GzipReader inflates one member at a
// time and says, for every chunk it returns, where that chunk's member starts. Input that does not
// start with the gzip magic passes through unchanged, so one reader serves .warc and .warc.gz.
//
// Damage never stops the reader with an error: a corrupt member is reported as a damage reason on
// the chunk where the data breaks off, and reading resumes at the next gzip member header (or ends
// cleanly when there is none). Only a failure of the underlying ByteStream is an error.
//
// Damage reasons (counted by callers as "read/damaged/<reason>"):
//   truncated_gzip  the input ends inside a gzip member (the data inflated up to the cut is kept)
//   gzip_corrupt    a bad member header, invalid deflate data, or a CRC/length mismatch
//   gzip_garbage    bytes between members that are not a gzip header (skipped up to the next one)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/byte_stream.h"

namespace winnow::pipeline {
namespace internal {
class Inflater;
struct GzipReaderTestPeer;
}  // namespace internal

struct GzipReaderOptions {
  size_t input_buffer_bytes = 1 << 20;  // compressed bytes read from the input per Read call
};

// One piece of uncompressed data written into the caller's buffer. A chunk never spans two gzip
// members.
struct GzipChunk {
  size_t size = 0;               // bytes written into the caller's buffer
  uint64_t member_offset = 0;    // compressed offset of the member these bytes belong to (plain: 0)
  uint64_t member_position = 0;  // uncompressed offset of the first byte within that member
  std::string_view damage;       // non-empty: data was lost right after these bytes (the reason)
  bool end = false;              // no data follows (size is then 0)
};

class GzipReader {
 public:
  explicit GzipReader(std::unique_ptr<ByteStream> input, GzipReaderOptions options = {});
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Writes up to `n` uncompressed bytes into `buf`. Stops early at the end of a member and where
  // data was lost (chunk.damage), so a chunk may be empty without being the end; call again until
  // chunk.end. An error is an I/O failure of the input only.
  absl::StatusOr<GzipChunk> Read(char* buf, size_t n);

  // True when the input starts with the gzip magic (sniffed on the first Read).
  bool is_gzip() const;
  // Compressed bytes consumed so far.
  uint64_t compressed_position() const;
  const std::string& name() const;

 private:
  friend struct internal::GzipReaderTestPeer;
  GzipReader(std::unique_ptr<ByteStream> input, GzipReaderOptions options,
             std::unique_ptr<internal::Inflater> inflater);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A plain ByteStream over `input`, transparently gunzipping it (every member, one after the other)
// when it starts with the gzip magic and passing it through otherwise. Damaged gzip data is a
// DataLoss error from Read (small inputs such as *.paths.gz files have no records to skip to).
std::unique_ptr<ByteStream> MaybeGunzip(std::unique_ptr<ByteStream> input);

}  // namespace winnow::pipeline
