// services/dashboard/training_runs.h — local training runs (`winnow train --out DIR` folders) as
// the dashboard's training jobs, for `winnow dashboard --train-runs PARENT`: every folder under
// PARENT (and PARENT itself) that holds a metrics.jsonl.
//
// Each run is shaped like a cluster job (winnow.v1.JobStatus as /api/jobs gives it): job_id = the
// folder's name, name = its path, kind "train", state "succeeded" (its last step is the config's
// steps), "running" (metrics.jsonl written in the last two minutes) or "stopped", and `training`
// with steps, step, loss, val_loss, val_bpb, lr, tokens_per_s, mfu, model and checkpoint.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace winnow::services {

nlohmann::json TrainingRunsJson(const std::string& parent);

// The metrics lines of the run named `id` (a folder name TrainingRunsJson lists; nothing else is
// read); NotFound for another name.
absl::StatusOr<nlohmann::json> TrainingRunMetrics(const std::string& parent, const std::string& id);

}  // namespace winnow::services
