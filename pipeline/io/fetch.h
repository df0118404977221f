// pipeline/io/fetch.h — opens the bytes of one crawl file, wherever it lives: a local path, an
// http(s):// URL streamed through libcurl with retries and Range resumption, or an s3:// URL
// fetched anonymously over HTTPS.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/byte_stream.h"

namespace winnow::pipeline {

struct FetchOptions {
  int max_attempts = 6;  // tries per failure streak; a try that delivers bytes resets it
  double initial_backoff_seconds = 1;  // wait before the 2nd try; doubles each retry (±50% jitter)
  double max_backoff_seconds = 60;     // cap on one wait (also caps a server's Retry-After)
  long connect_timeout_seconds = 30;   // give up on one connection attempt after this long
  long low_speed_limit_bytes = 1024;   // a transfer slower than this (bytes/s) ...
  long low_speed_time_seconds = 60;    // ... for this long is a timeout, retried
  std::string user_agent = "winnow/0.1 (+https://github.com/winnow)";  // User-Agent header
  size_t buffer_bytes = 8 << 20;  // read-ahead between the network and Read(); bounds memory
};

// Opens a local path (or file:// URL), an http(s):// URL, or an s3://BUCKET/KEY URL (see
// S3ToHttps). URLs are streamed: a background thread downloads at most `buffer_bytes` ahead of
// Read(). Transient failures (connect errors, timeouts, HTTP 408/429/500/502/503/504, a connection
// cut mid-body) are retried with exponential backoff; a retry after bytes were delivered resumes
// with `Range: bytes=N-`. Returns once the first bytes (or the end, or a failure) have arrived, so
// a 404/403 fails here, naming the URL and the HTTP code.
absl::StatusOr<std::unique_ptr<ByteStream>> OpenInput(const std::string& location,
                                                      const FetchOptions& options = {});

// s3://commoncrawl/KEY → https://data.commoncrawl.org/KEY; s3://BUCKET/KEY →
// https://BUCKET.s3.amazonaws.com/KEY (anonymous). InvalidArgument without a bucket or a key.
absl::StatusOr<std::string> S3ToHttps(std::string_view s3_url);

}  // namespace winnow::pipeline
