// services/cluster/shard_server.h — a standalone shard server (`winnow serve shard`): a ShardStore
// behind the Shard service, for clusters whose results outgrow the coordinator's disk. It commits a
// task's results only while the coordinator says the lease is held, then reports the task done;
// the coordinator's dedup reads and marks its documents over the same service.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace winnow::services {

struct ShardServerOptions {
  std::string data_dir = "winnow-shard";
  std::string grpc_address = "127.0.0.1:7071";
  std::string coordinator = "127.0.0.1:7070";  // checks leases, takes completions
  std::string token;  // required off loopback; also sent to the coordinator
  bool log = true;
};

class ShardServer {
 public:
  static absl::StatusOr<std::unique_ptr<ShardServer>> Start(const ShardServerOptions& options);
  ~ShardServer();
  int port() const;
  void Wait();
  void Shutdown();

  struct Impl;

 private:
  explicit ShardServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace winnow::services
