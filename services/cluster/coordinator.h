// services/cluster/coordinator.h — the coordinator: jobs split into tasks (one input file each),
// leased to workers with deadlines renewed by heartbeats, retried with backoff, and the shard
// store the workers' results are committed to.
//
// State (jobs, tasks, attempts, errors, per-task stats) lives in RocksDB under
// DATA_DIR/coordinator/, written before every reply that depends on it, so a restarted
// coordinator carries on: tasks that were leased become pending again (their workers' late
// results are refused, their leases being unknown), and a job whose tasks all ended is
// deduplicated again if it was not finished. Results go to DATA_DIR/shards/ exactly as
// `winnow run` writes them: one atomic commit per input, replacing any earlier one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "pipeline/store/shard_store.h"

namespace winnow::services {

struct CoordinatorOptions {
  std::string data_dir = "winnow-data";
  std::string grpc_address = "127.0.0.1:7070";  // HOST:PORT; port 0 picks a free one
  std::string token;                            // required off loopback
  std::vector<std::string> allowed_roots;       // local folders jobs may read (none by default)
  double lease_seconds = 30;                    // a task's lease without heartbeats
  int max_attempts = 4;                         // then the task fails for good
  double retry_backoff_seconds = 2;             // before the second attempt; doubles after
  double max_retry_backoff_seconds = 60;
  std::vector<std::string> shards;  // standalone shard servers (HOST:PORT); none: in process
  int dedup_threads = 0;            // 0: all cores
  bool log = true;                  // one line per job and task event on stderr
};

class Coordinator {
 public:
  // Opens the state and the shard store, binds the port and starts serving. Errors: a bad
  // option (InvalidArgument), a non-loopback address without a token (FailedPrecondition), a
  // port that cannot be bound (Unavailable), a data dir that cannot be opened.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options);
  ~Coordinator();  // Shutdown()

  int port() const;  // the bound port
  // For the dashboard: the shard store (in process) and every job as JSON (JobStatus fields).
  std::shared_ptr<pipeline::ShardStore> store() const;
  nlohmann::json JobsJson() const;
  // A training job's metrics lines (one object per step, by step); NotFound for no such job.
  absl::StatusOr<nlohmann::json> TrainingMetricsJson(const std::string& job_id) const;
  void Wait();  // until Shutdown
  void Shutdown();

  struct Impl;

 private:
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace winnow::services
