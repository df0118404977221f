#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdlib>

#include "tests/pipeline/io/loopback_server.h"

namespace winnow::pipeline::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct LoopbackServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
};

LoopbackServer::LoopbackServer() : impl_(std::make_unique<Impl>()) {
  thread_ = std::thread([this] { Loop(); });
}

LoopbackServer::~LoopbackServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    holding_ = false;
  }
  cv_.notify_all();
  // Wake the blocking accept() with a connection of our own.
  boost::system::error_code ec;
  tcp::socket wake(impl_->ioc);
  wake.connect(impl_->acceptor.local_endpoint(), ec);
  thread_.join();
}

std::string LoopbackServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port()) +
         std::string(path);
}

void LoopbackServer::Serve(const std::string& path, std::string body) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path] = std::move(body);
}

void LoopbackServer::FailNext(int count, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_count_ = count;
  fail_status_ = status;
}

void LoopbackServer::CutAfter(size_t bytes, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  cut_bytes_ = bytes;
  cut_count_ = count;
}

void LoopbackServer::IgnoreRange(bool ignore) {
  std::lock_guard<std::mutex> lock(mu_);
  ignore_range_ = ignore;
}

void LoopbackServer::HoldAfter(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_bytes_ = bytes;
  holding_ = true;
}

void LoopbackServer::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = false;
  }
  cv_.notify_all();
}

int LoopbackServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(ranges_.size());
}

std::vector<std::string> LoopbackServer::ranges() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ranges_;
}

void LoopbackServer::Loop() {
  while (true) {
    tcp::socket socket(impl_->ioc);
    boost::system::error_code ec;
    impl_->acceptor.accept(socket, ec);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (!ec) Handle(&socket);
  }
}

namespace {

std::string Head(int status, std::string_view reason, size_t length, const std::string& extra) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Length: " + std::to_string(length) + "\r\nConnection: close\r\n" + extra +
         "\r\n";
}

// "bytes=N-" or "bytes=N-M" → N (M is ignored: clients here only ask for open ranges).
bool ParseRangeStart(const std::string& range, size_t* start) {
  if (range.rfind("bytes=", 0) != 0) return false;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(range.c_str() + 6, &end, 10);
  if (end == range.c_str() + 6 || *end != '-') return false;
  *start = static_cast<size_t>(n);
  return true;
}

}  // namespace

void LoopbackServer::Handle(void* raw_socket) {
  tcp::socket& socket = *static_cast<tcp::socket*>(raw_socket);
  boost::system::error_code ec;
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::read(socket, buffer, request, ec);
  if (ec) return;
  const std::string path(request.target());
  const std::string range(request[http::field::range]);

  std::string head;
  std::string body;
  size_t send = 0;        // body bytes to send before closing
  size_t hold_after = 0;  // with `hold`: pause after this many
  bool hold = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_.push_back(range);
    auto file = files_.find(path);
    size_t start = 0;
    bool file_body = false;
    if (fail_count_ > 0) {
      --fail_count_;
      body = "try again later\n";
      head = Head(fail_status_, "Error", body.size(), "Retry-After: 0\r\n");
    } else if (file == files_.end()) {
      body = "not found\n";
      head = Head(404, "Not Found", body.size(), "");
    } else if (!range.empty() && !ignore_range_ && ParseRangeStart(range, &start)) {
      const std::string& all = file->second;
      if (start >= all.size()) {
        head = Head(416, "Range Not Satisfiable", 0,
                    "Content-Range: bytes */" + std::to_string(all.size()) + "\r\n");
      } else {
        body = all.substr(start);
        file_body = true;
        head = Head(206, "Partial Content", body.size(),
                    "Content-Range: bytes " + std::to_string(start) + "-" +
                        std::to_string(all.size() - 1) + "/" + std::to_string(all.size()) + "\r\n");
      }
    } else {
      body = file->second;
      file_body = true;
      head = Head(200, "OK", body.size(), "");
    }
    send = body.size();
    if (file_body && cut_count_ > 0) {
      --cut_count_;
      send = std::min(send, cut_bytes_);
    }
    if (file_body && holding_) {
      hold = true;
      hold_after = std::min(hold_bytes_, send);
    }
  }
  asio::write(socket, asio::buffer(head), ec);
  if (ec) return;
  size_t sent = 0;
  if (hold) {
    asio::write(socket, asio::buffer(body.data(), hold_after), ec);
    if (ec) return;
    sent = hold_after;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !holding_; });
  }
  asio::write(socket, asio::buffer(body.data() + sent, send - sent), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace winnow::pipeline::test
