#include "services/cluster/job_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace winnow::services {

std::string_view JobStateName(v1::JobState state) {
  switch (state) {
    case v1::JOB_RUNNING:
      return "running";
    case v1::JOB_DEDUPLICATING:
      return "deduplicating";
    case v1::JOB_SUCCEEDED:
      return "succeeded";
    case v1::JOB_FAILED:
      return "failed";
    case v1::JOB_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

std::string_view TaskStateName(v1::TaskState state) {
  switch (state) {
    case v1::TASK_PENDING:
      return "pending";
    case v1::TASK_LEASED:
      return "leased";
    case v1::TASK_DONE:
      return "done";
    case v1::TASK_FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

std::string JobLine(const v1::JobStatus& job) {
  if (job.kind() == "train") {
    const v1::TrainingStatus& t = job.training();
    std::string line = absl::StrFormat("%s  %-13s train %s  step %d/%d", job.job_id(),
                                       JobStateName(job.state()), t.model(), t.step(), t.steps());
    if (t.step() > 0) absl::StrAppendFormat(&line, "  loss %.4f", t.loss());
    if (t.has_val_loss()) absl::StrAppendFormat(&line, "  val_loss %.4f", t.val_loss());
    if (t.has_val_bpb()) absl::StrAppendFormat(&line, "  val_bpb %.4f", t.val_bpb());
    if (t.tokens_per_s() > 0) absl::StrAppendFormat(&line, "  %.0f tokens/s", t.tokens_per_s());
    if (t.mfu() > 0) absl::StrAppendFormat(&line, "  MFU %.1f%%", 100 * t.mfu());
    if (job.state() == v1::JOB_RUNNING && job.eta_seconds() >= 0) {
      absl::StrAppendFormat(&line, "  ETA %.0f s", job.eta_seconds());
    }
    absl::StrAppend(&line, "  ", job.name());
    return line;
  }
  std::string eta = job.eta_seconds() < 0 ? "?" : absl::StrFormat("%.0f s", job.eta_seconds());
  return absl::StrFormat(
      "%s  %-13s tasks %d/%d done, %d leased, %d pending, %d failed  %d records  %d documents  "
      "%.0f records/s  ETA %s  %s",
      job.job_id(), JobStateName(job.state()), job.tasks_done(), job.tasks_total(),
      job.tasks_leased(), job.tasks_pending(), job.tasks_failed(), job.records(), job.documents(),
      job.records_per_second(), eta, job.name());
}

std::string JobDetails(const v1::GetJobReply& reply) {
  const v1::JobStatus& job = reply.job();
  std::string out = JobLine(job) + "\n";
  if (!job.error().empty()) absl::StrAppend(&out, "error: ", job.error(), "\n");
  if (job.kind() == "train") {
    const v1::TrainingStatus& t = job.training();
    if (!t.worker().empty()) absl::StrAppend(&out, "  worker: ", t.worker(), "\n");
    if (!t.out_dir().empty()) absl::StrAppend(&out, "  output: ", t.out_dir(), "\n");
    if (!t.checkpoint().empty()) absl::StrAppend(&out, "  checkpoint: ", t.checkpoint(), "\n");
  }
  for (const v1::TaskStatus& task : job.failed_tasks()) {
    absl::StrAppendFormat(&out, "  failed task %d (%d attempts): %s\n    %s\n", task.index(),
                          task.attempts(), task.input(), task.last_error());
  }
  const nlohmann::json dedup = nlohmann::json::parse(job.dedup_json(), nullptr, false);
  if (dedup.is_object()) {
    for (const auto& [group, report] : dedup.items()) {
      absl::StrAppendFormat(
          &out, "  dedup %s: %d documents, %d exact + %d near duplicates, %d clusters\n", group,
          report.value("documents", 0), report.value("exact_duplicates", 0),
          report.value("near_duplicates", 0), report.value("clusters", 0));
    }
  }
  for (const v1::TaskStatus& task : reply.tasks()) {
    absl::StrAppendFormat(&out, "  task %d  %-8s attempts %d  %d records  %d kept  %s%s%s\n",
                          task.index(), TaskStateName(task.state()), task.attempts(),
                          task.documents_in(), task.documents_out(), task.input(),
                          task.last_error().empty() ? "" : "  error: ", task.last_error());
  }
  return out;
}

}  // namespace winnow::services
