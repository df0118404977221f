// pipeline/warc/internal/inflater.h — the raw-deflate engines behind GzipReader (not public API).
//
// GzipReader parses gzip member headers itself and hands the deflate stream plus its 8-byte trailer
// to an Inflater, which verifies the trailer (CRC-32 and length). ISA-L's igzip is used when the
// build has it (about twice as fast as zlib); zlib is the fallback. Tests reach both through
// GzipReaderTestPeer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "pipeline/warc/gzip_reader.h"

namespace winnow::pipeline::internal {

enum class InflateResult {
  kOk,         // progress made (or more input/output needed); call again
  kMemberEnd,  // the deflate stream and its trailer are complete and verified
  kError,      // invalid deflate data or a trailer mismatch
};

class Inflater {
 public:
  virtual ~Inflater() = default;
  // Prepares for a new member (its deflate data starts right after the gzip header).
  virtual void Reset() = 0;
  // Inflates from `in` into `out`; reports how much of each was used.
  virtual InflateResult Inflate(const uint8_t* in, size_t in_len, size_t* consumed, uint8_t* out,
                                size_t out_len, size_t* produced) = 0;
};

std::unique_ptr<Inflater> NewZlibInflater();
// nullptr when the build has no ISA-L.
std::unique_ptr<Inflater> NewIsalInflater();

struct GzipReaderTestPeer {
  // A GzipReader forced onto the zlib engine, to test the fallback on ISA-L builds.
  static std::unique_ptr<GzipReader> NewWithZlib(std::unique_ptr<ByteStream> input,
                                                 GzipReaderOptions options = {});
};

}  // namespace winnow::pipeline::internal
