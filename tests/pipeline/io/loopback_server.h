// tests/pipeline/io/loopback_server.h — a small real HTTP/1.1 server on 127.0.0.1 (an ephemeral
// port) for fetch tests: serves in-memory files, honours Range, and misbehaves on request.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace winnow::pipeline::test {

class LoopbackServer {
 public:
  LoopbackServer();  // listening and serving on return
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  // "http://127.0.0.1:PORT" + path (path starts with '/').
  std::string Url(std::string_view path) const;
  // GET path answers body (200, or 206 for a Range request); unknown paths answer 404.
  void Serve(const std::string& path, std::string body);
  // The next `count` requests answer `status` with a short error page.
  void FailNext(int count, int status = 503);
  // The next `count` bodies stop after `bytes` bytes and the connection is closed.
  void CutAfter(size_t bytes, int count = 1);
  // Answer every request with the full body and 200, even when a Range was asked for.
  void IgnoreRange(bool ignore);
  // The next body pauses after `bytes` bytes until Release() (or the server is destroyed).
  void HoldAfter(size_t bytes);
  void Release();

  int requests() const;                     // requests received so far
  std::vector<std::string> ranges() const;  // each request's Range header ("" if none)

 private:
  struct Impl;
  void Loop();
  void Handle(void* socket);

  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> files_;
  int fail_count_ = 0;
  int fail_status_ = 503;
  size_t cut_bytes_ = 0;
  int cut_count_ = 0;
  bool ignore_range_ = false;
  size_t hold_bytes_ = 0;
  bool holding_ = false;
  bool stopping_ = false;
  std::vector<std::string> ranges_;
  std::thread thread_;
};

}  // namespace winnow::pipeline::test
