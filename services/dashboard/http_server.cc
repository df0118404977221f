#include "services/dashboard/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace winnow::services {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(30);

HttpRequest Parse(const http::request<http::empty_body>& raw) {
  HttpRequest request;
  request.method = std::string(raw.method_string());
  const std::string target(raw.target());
  const size_t q = target.find('?');
  request.path = UrlDecode(target.substr(0, q), false);
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const size_t eq = pair.find('=');
      request.query[UrlDecode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1), true);
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  if (auto it = raw.find(http::field::authorization); it != raw.end()) {
    request.authorization = std::string(it->value());
  }
  if (auto it = raw.find(http::field::cookie); it != raw.end()) {
    request.cookie = std::string(it->value());
  }
  return request;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler* handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(0);  // GET and HEAD carry no body
    stream_.expires_after(kTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec != http::error::end_of_stream) {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      }
      return;
    }
    const http::request<http::empty_body>& raw = parser_->get();
    auto response = std::make_shared<http::response<http::string_body>>();
    size_t head_length = 0;
    response->version(raw.version());
    response->keep_alive(raw.keep_alive());
    response->set(http::field::server, "winnow");
    if (raw.method() != http::verb::get && raw.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->set(http::field::allow, "GET, HEAD");
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "read-only: GET and HEAD only\n";
    } else {
      HttpResponse out;
      try {
        out = (*handler_)(Parse(raw));
      } catch (const std::exception& e) {
        out.status = 500;
        out.body = absl::StrCat("internal error: ", e.what(), "\n");
      }
      response->result(static_cast<http::status>(out.status));
      response->set(http::field::content_type, out.content_type);
      // The page is self-contained: nothing loads from elsewhere, nothing runs inline.
      response->set("Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; frame-ancestors 'none'");
      response->set("X-Content-Type-Options", "nosniff");
      response->set(http::field::cache_control, "no-store");
      for (const auto& [name, value] : out.headers) response->set(name, value);
      head_length = out.body.size();
      response->body() = std::move(out.body);
    }
    response->prepare_payload();
    if (raw.method() == http::verb::head) {  // the GET's length, no body
      response->body().clear();
      response->content_length(head_length);
    }
    stream_.expires_after(kTimeout);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!response->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->Read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  const HttpHandler* handler_;
};

}  // namespace

struct HttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  HttpHandler handler;
  std::vector<std::thread> threads;
  int port = 0;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) std::make_shared<Session>(std::move(socket), &handler)->Start();
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  if (impl_ == nullptr) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              HttpHandler handler, int threads) {
  std::string host = address, port = "0";
  if (const size_t colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--http ", address, ": not HOST:PORT"));
  int port_number = 0;
  try {
    port_number = std::stoi(port);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("--http ", address, ": bad port"));
  }
  const tcp::endpoint endpoint(ip, static_cast<unsigned short>(port_number));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::string UrlDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace winnow::services
