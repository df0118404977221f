// pipeline/byte_stream.h — a sequential source of bytes (a local file, an HTTP body, an inflater).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace winnow::pipeline {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `n` bytes into `buf`. Returns the number read; 0 only at the end of the stream.
  // A non-OK status means the stream failed (I/O error, network error after all retries).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // A name for messages: the path or URL.
  virtual const std::string& name() const = 0;
};

// A local file, read sequentially with large reads. Fails with NotFound / PermissionDenied naming
// the path.
absl::StatusOr<std::unique_ptr<ByteStream>> OpenLocalFile(const std::string& path);

// Reads a whole stream into memory (small inputs only: paths files, test fixtures).
absl::StatusOr<std::string> ReadAll(ByteStream& stream);

// Bytes held in memory (tests, and pages handed to the pipeline directly).
std::unique_ptr<ByteStream> StringStream(std::string data, std::string name = "<memory>");

}  // namespace winnow::pipeline
