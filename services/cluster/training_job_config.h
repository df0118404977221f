// services/cluster/training_job_config.h — the config of a training job submitted to the
// coordinator: the YAML `winnow train` reads (trainer/train/train_config.h), minus the data, which
// the cluster supplies (the kept documents of the job's snapshot, copied to the worker).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "trainer/train/train_config.h"

namespace winnow::services {

// Parses and checks a training job's YAML; InvalidArgument naming the key for a bad one, and for
// data_dir, shards or out (the cluster decides where the data and the output live).
absl::StatusOr<trainer::TrainConfig> CheckTrainingJobConfig(std::string_view yaml);

// The config a worker runs: the job's YAML with data_dir set to the documents it copied.
absl::StatusOr<std::string> WorkerTrainingConfig(std::string_view yaml,
                                                 const std::string& data_dir);

// What status shows as the model: the preset name, or "L×C".
std::string ModelName(const trainer::TrainConfig& config);

// Tokens one optimizer step trains on: batch_size × seq_len (the model's context when 0) ×
// grad_accum. 0 when the model is unknown.
int64_t TokensPerStep(const trainer::TrainConfig& config);

}  // namespace winnow::services
