// services/cluster/training_task.h — a worker's side of a training job:
//   1. copy the kept documents of the job's snapshot from the shards into a local curated data
//      dir (WORK/training/JOB/data; kept across attempts once complete),
//   2. run `winnow train` on it as a child process (WORK/training/JOB/out, log in train.log),
//      with --resume when an earlier attempt on this disk left checkpoints,
//   3. report every new metrics.jsonl line and the newest checkpoint to the coordinator.
// The caller holds the lease (heartbeats) and sets `cancel` when it is lost or the worker stops:
// the child is then stopped, and whichever worker takes the task next resumes from the newest
// checkpoint when it shares WORK (one machine, or a shared file system).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "proto/winnow.grpc.pb.h"

namespace winnow::services {

struct TrainingTaskEnv {
  v1::Coordinator::Stub* coordinator = nullptr;
  // The Shard service at an address ("" : the coordinator's own).
  std::function<v1::Shard::Stub*(const std::string& address)> shard;
  std::string token;
  std::string work_dir;       // WORK
  std::string winnow_binary;  // the `winnow` executable that runs `train`
  std::function<void(const std::string&)> log;
};

// OK once training finished and the coordinator was told (CompleteTask). FailedPrecondition when
// the lease was lost, Cancelled when `cancel` was set; InvalidArgument for a config or data that
// no retry can fix (exit 2 of `winnow train`, no documents); others for retryable failures. The
// message of a failed run ends with the last lines of its log.
absl::Status RunTrainingTask(const v1::Task& task, const TrainingTaskEnv& env,
                             const std::atomic<bool>& cancel);

}  // namespace winnow::services
