// services/cluster/job_report.h — how `winnow submit --wait` and `winnow status` show a job.
#pragma once

#include <string>

#include "proto/winnow.pb.h"

namespace winnow::services {

std::string_view JobStateName(v1::JobState state);    // "running", "succeeded", …
std::string_view TaskStateName(v1::TaskState state);  // "pending", "leased", …

// One line: state, tasks done/leased/pending/failed of total, records, documents, rate, ETA.
std::string JobLine(const v1::JobStatus& job);
// The line, then the failed tasks with their errors, the dedup result, and (with tasks) every
// task.
std::string JobDetails(const v1::GetJobReply& reply);

}  // namespace winnow::services
