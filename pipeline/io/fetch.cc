#include "pipeline/io/fetch.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace winnow::pipeline {
namespace {

using absl::StrCat;

// curl_global_init is not thread-safe; a function-local static runs it exactly once.
absl::Status InitCurlOnce() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return absl::InternalError(StrCat("curl_global_init: ", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

bool IsRetryableHttp(long code) {
  return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

bool IsRetryableCurl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

absl::StatusCode CodeForHttp(long code) {
  if (code == 404 || code == 410) return absl::StatusCode::kNotFound;
  if (code == 401 || code == 403) return absl::StatusCode::kPermissionDenied;
  if (IsRetryableHttp(code)) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kUnknown;
}

// An HTTP body streamed by a producer thread (one libcurl easy handle, retried and resumed) into a
// bounded ring buffer that Read() drains.
class HttpStream final : public ByteStream {
 public:
  HttpStream(std::string name, std::string url, const FetchOptions& options)
      : name_(std::move(name)),
        url_(std::move(url)),
        options_(options),
        ring_(std::max<size_t>(options.buffer_bytes, 4096)),
        rng_(std::random_device{}()),
        thread_([this] { Run(); }) {}

  ~HttpStream() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return 0;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return size_ > 0 || finished_; });
    if (size_ == 0) {
      if (!final_status_.ok()) return final_status_;
      return 0;
    }
    const size_t k = std::min(n, size_);
    const size_t first = std::min(k, ring_.size() - head_);
    std::memcpy(buf, ring_.data() + head_, first);
    std::memcpy(buf + first, ring_.data(), k - first);
    head_ = (head_ + k) % ring_.size();
    size_ -= k;
    lock.unlock();
    cv_.notify_all();
    return k;
  }

  const std::string& name() const override { return name_; }

  // Blocks until the first bytes arrive, the body ends, or the fetch fails for good.
  absl::Status WaitForStart() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return size_ > 0 || finished_; });
    return size_ > 0 ? absl::OkStatus() : final_status_;
  }

 private:
  enum class Outcome { kDone, kRetry, kFail };

  // The producer thread: attempts until the body is complete, a failure is final, or the reader
  // is gone.
  void Run() {
    absl::Status status = InitCurlOnce();
    if (status.ok()) {
      easy_ = curl_easy_init();
      if (easy_ == nullptr) status = absl::InternalError("curl_easy_init failed");
    }
    if (status.ok()) status = Fetch();
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      final_status_ = std::move(status);
    }
    cv_.notify_all();
  }

  absl::Status Fetch() {
    SetOptions();
    const int max_attempts = std::max(options_.max_attempts, 1);
    int failures = 0;  // failed attempts since the last one that delivered bytes
    while (true) {
      const uint64_t before = offset_;
      absl::Status error;
      const Outcome outcome = Attempt(&error);
      if (cancelled_)
        return absl::CancelledError(StrCat("fetch ", name_, ": closed by the reader"));
      if (outcome == Outcome::kDone) return absl::OkStatus();
      if (outcome == Outcome::kFail) return error;
      if (offset_ > before) failures = 0;
      if (++failures >= max_attempts) {
        return absl::Status(error.code(),
                            StrCat(error.message(), " (gave up after ", failures, " attempts)"));
      }
      double delay = std::min(options_.max_backoff_seconds,
                              options_.initial_backoff_seconds * std::pow(2.0, failures - 1));
      delay *= std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
      if (retry_after_ > 0) {
        delay = std::max(delay, std::min(retry_after_, options_.max_backoff_seconds));
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::duration<double>(delay),
                       [&] { return cancelled_.load(); })) {
        return absl::CancelledError(StrCat("fetch ", name_, ": closed by the reader"));
      }
    }
  }

  void SetOptions() {
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, 8L);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_limit_bytes);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_seconds);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy_, CURLOPT_BUFFERSIZE,
                     static_cast<long>(std::min<size_t>(ring_.size(), CURL_MAX_READ_SIZE)));
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &HttpStream::OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &HttpStream::OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &HttpStream::OnProgress);
    curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, this);
  }

  // One request from byte `offset_` on. Sets *error unless the outcome is kDone.
  Outcome Attempt(absl::Status* error) {
    body_started_ = false;
    skip_ = 0;
    range_start_ = -1;
    range_total_ = -1;
    retry_after_ = -1;
    body_error_ = absl::OkStatus();
    errbuf_[0] = '\0';
    const std::string range = StrCat(offset_, "-");
    curl_easy_setopt(easy_, CURLOPT_RANGE, offset_ > 0 ? range.c_str() : nullptr);
    const CURLcode rc = curl_easy_perform(easy_);
    if (cancelled_) return Outcome::kFail;
    if (!body_error_.ok()) {
      *error = body_error_;
      return Outcome::kFail;
    }
    long code = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300) {
      // Asked to resume exactly at the end (the cut came after the last byte): nothing is missing.
      if (code == 416 && offset_ > 0 && total_ == static_cast<int64_t>(offset_)) {
        return Outcome::kDone;
      }
      *error = absl::Status(CodeForHttp(code), StrCat("fetch ", Where(), ": HTTP ", code));
      return IsRetryableHttp(code) ? Outcome::kRetry : Outcome::kFail;
    }
    if (rc != CURLE_OK) {
      const absl::StatusCode status_code = rc == CURLE_OPERATION_TIMEDOUT
                                               ? absl::StatusCode::kDeadlineExceeded
                                               : absl::StatusCode::kUnavailable;
      *error = absl::Status(
          status_code, StrCat("fetch ", Where(), " at byte ", offset_, ": ", curl_easy_strerror(rc),
                              errbuf_[0] != '\0' ? StrCat(" (", errbuf_, ")") : std::string()));
      return IsRetryableCurl(rc) ? Outcome::kRetry : Outcome::kFail;
    }
    if (skip_ > 0) {
      *error = absl::DataLossError(StrCat("fetch ", Where(), ": the body shrank to fewer than ",
                                          offset_, " bytes between attempts"));
      return Outcome::kFail;
    }
    return Outcome::kDone;
  }

  std::string Where() const { return name_ == url_ ? url_ : StrCat(url_, " (", name_, ")"); }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self) {
    static_cast<HttpStream*>(self)->Header(absl::string_view(data, size * count));
    return size * count;
  }

  void Header(absl::string_view line) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "HTTP/")) {  // a new response (after a redirect, or 100 Continue)
      range_start_ = -1;
      range_total_ = -1;
      retry_after_ = -1;
      return;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(key, "Content-Range")) {
      // "bytes START-END/TOTAL" (TOTAL may be "*").
      absl::string_view v = value;
      if (!absl::ConsumePrefix(&v, "bytes ")) return;
      const size_t dash = v.find('-');
      const size_t slash = v.find('/');
      if (dash == absl::string_view::npos || slash == absl::string_view::npos) return;
      int64_t start = 0, total = 0;
      if (absl::SimpleAtoi(v.substr(0, dash), &start)) range_start_ = start;
      if (absl::SimpleAtoi(v.substr(slash + 1), &total)) range_total_ = total;
    } else if (absl::EqualsIgnoreCase(key, "Retry-After")) {
      int seconds = 0;
      if (absl::SimpleAtoi(value, &seconds)) retry_after_ = seconds;
    }
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    return static_cast<HttpStream*>(self)->Body(data, size * count);
  }

  // Returns n to go on, anything else to abort the transfer.
  size_t Body(const char* data, size_t n) {
    if (!body_started_) {
      body_started_ = true;
      long code = 0;
      curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
      if (code == 206) {
        if (range_start_ != static_cast<int64_t>(offset_)) {
          body_error_ =
              absl::DataLossError(StrCat("fetch ", Where(), ": asked for bytes from ", offset_,
                                         ", the server sent from ", range_start_));
          return 0;
        }
        if (range_total_ >= 0) total_ = range_total_;
      } else if (code == 200) {
        skip_ = offset_;  // the server ignored Range: drop what was already delivered
        curl_off_t length = -1;
        curl_easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        if (length >= 0) total_ = length;
      } else {
        return 0;  // an error page is not the file; Attempt() reports the HTTP code
      }
    }
    const size_t skipped = static_cast<size_t>(std::min<uint64_t>(skip_, n));
    skip_ -= skipped;
    if (!Push(data + skipped, n - skipped)) return 0;
    offset_ += n - skipped;
    return n;
  }

  // Copies into the ring, waiting for room. False if the reader went away.
  bool Push(const char* data, size_t n) {
    size_t done = 0;
    while (done < n) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return cancelled_ || size_ < ring_.size(); });
      if (cancelled_) return false;
      const size_t k = std::min(ring_.size() - size_, n - done);
      const size_t tail = (head_ + size_) % ring_.size();
      const size_t first = std::min(k, ring_.size() - tail);
      std::memcpy(ring_.data() + tail, data + done, first);
      std::memcpy(ring_.data(), data + done + first, k - first);
      size_ += k;
      done += k;
      lock.unlock();
      cv_.notify_all();
    }
    return true;
  }

  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<HttpStream*>(self)->cancelled_ ? 1 : 0;
  }

  const std::string name_;  // the location as given (may be s3://)
  const std::string url_;   // what is fetched
  const FetchOptions options_;

  // Shared by the producer and the reader, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<char> ring_;
  size_t head_ = 0;  // first unread byte in ring_
  size_t size_ = 0;  // unread bytes in ring_
  bool finished_ = false;
  absl::Status final_status_;
  std::atomic<bool> cancelled_{false};

  // Producer thread only.
  CURL* easy_ = nullptr;
  std::mt19937_64 rng_;             // backoff jitter
  uint64_t offset_ = 0;             // body bytes delivered into ring_, over all attempts
  int64_t total_ = -1;              // full body size once a response told it
  bool body_started_ = false;       // the current attempt's body has begun
  uint64_t skip_ = 0;               // bytes still to drop from a 200 that ignored Range
  int64_t range_start_ = -1;        // Content-Range start of the current response
  int64_t range_total_ = -1;        // Content-Range total of the current response
  double retry_after_ = -1;         // Retry-After seconds of the current response
  absl::Status body_error_;         // why Body() aborted the transfer, if it did
  char errbuf_[CURL_ERROR_SIZE]{};  // libcurl's detail for the last error

  std::thread thread_;  // last: starts once everything above is built
};

}  // namespace

absl::StatusOr<std::string> S3ToHttps(std::string_view s3_url_std) {
  const absl::string_view s3_url(s3_url_std.data(), s3_url_std.size());
  absl::string_view rest = s3_url;
  if (!absl::StartsWithIgnoreCase(rest, "s3://")) {
    return absl::InvalidArgumentError(StrCat("not an s3:// URL: ", s3_url));
  }
  rest.remove_prefix(5);
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return absl::InvalidArgumentError(StrCat("expected s3://BUCKET/KEY, got ", s3_url));
  }
  const absl::string_view bucket = rest.substr(0, slash);
  const absl::string_view key = rest.substr(slash + 1);
  if (bucket == "commoncrawl") return StrCat("https://data.commoncrawl.org/", key);
  return StrCat("https://", bucket, ".s3.amazonaws.com/", key);
}

absl::StatusOr<std::unique_ptr<ByteStream>> OpenInput(const std::string& location,
                                                      const FetchOptions& options) {
  std::string url;
  if (absl::StartsWithIgnoreCase(location, "http://") ||
      absl::StartsWithIgnoreCase(location, "https://")) {
    url = location;
  } else if (absl::StartsWithIgnoreCase(location, "s3://")) {
    absl::StatusOr<std::string> https = S3ToHttps(location);
    if (!https.ok()) return https.status();
    url = *std::move(https);
  } else if (absl::StartsWithIgnoreCase(location, "file://")) {
    return OpenLocalFile(location.substr(7));
  } else if (absl::StrContains(location, "://")) {
    return absl::InvalidArgumentError(
        StrCat("unsupported URL scheme (use a path, http(s):// or s3://): ", location));
  } else {
    return OpenLocalFile(location);
  }
  auto stream = std::make_unique<HttpStream>(location, std::move(url), options);
  if (absl::Status status = stream->WaitForStart(); !status.ok()) return status;
  return stream;
}

}  // namespace winnow::pipeline
