// services/dashboard/http_server.h — a small read-only HTTP/1.1 server (Boost.Beast on Asio):
// GET and HEAD only, bounded requests, per-connection timeouts, keep-alive, a thread pool.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace winnow::services {

struct HttpRequest {
  std::string method;                        // "GET" or "HEAD"
  std::string path;                          // decoded, without the query
  std::map<std::string, std::string> query;  // decoded parameters (the last one wins)
  std::string authorization;                 // the Authorization header, if any
  std::string cookie;                        // the Cookie header, if any
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds HOST:PORT (port 0: any free one) and serves on `threads` threads until destroyed.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           HttpHandler handler, int threads = 2);
  ~HttpServer();
  int port() const;
  void Stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a URL component ('+' as space in queries).
std::string UrlDecode(std::string_view in, bool plus_is_space);

}  // namespace winnow::services
