// services/cluster/worker.h — a stateless worker: leases tasks from the coordinator, runs the
// same per-input pipeline as `winnow run` (pipeline/run/task.h) and streams the results to the
// shard service, which commits them only while the lease holds. Killing a worker at any moment
// loses nothing: its lease expires and another worker redoes the task from the start. Training
// tasks run `winnow train` (training_task.h) and resume from their newest checkpoint instead.
#pragma once

#include <atomic>
#include <string>

namespace winnow::services {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7070";  // HOST:PORT of the coordinator (and its shards)
  std::string token;                           // bearer token, when the coordinator needs one
  int threads = 0;                             // page threads per task; 0: all cores
  std::string name;                            // default: host:pid
  int max_tasks = -1;                          // stop after this many tasks (-1: never)
  std::string work_dir = "winnow-worker";      // training tasks: data, checkpoints, logs
  std::string winnow_binary;                   // runs `train`; default: this executable
  bool log = true;                             // one line per task on stderr
};

// Runs until `stop` becomes true (checked between tasks and while idle) or max_tasks ran.
// Returns the number of tasks completed.
int RunWorker(const WorkerOptions& options, const std::atomic<bool>& stop);

}  // namespace winnow::services
