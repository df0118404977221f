// services/cluster/auth.h — the bearer token every RPC carries unless the server is on loopback.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"

namespace winnow::services {

// Reads a token file: its first line, trimmed; an empty token is an error naming the file.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Whether HOST:PORT (or [v6]:PORT) names a loopback address: localhost, 127.x.x.x or ::1.
bool IsLoopbackAddress(const std::string& address);

// Server side: with a token, every call must carry "authorization: Bearer TOKEN".
class TokenCheck {
 public:
  explicit TokenCheck(std::string token) : token_(std::move(token)) {}
  // OK, or UNAUTHENTICATED saying whether the token was missing or wrong.
  grpc::Status Check(const grpc::ServerContext& context) const;
  bool required() const { return !token_.empty(); }

 private:
  std::string token_;
};

// Client side: adds the token (when non-empty) to a call.
void AddToken(grpc::ClientContext* context, const std::string& token);

// An insecure channel to HOST:PORT with large messages allowed (documents travel whole).
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Upper bound for one message (a document with its metadata), both directions.
inline constexpr int kMaxMessageBytes = 256 << 20;

}  // namespace winnow::services
