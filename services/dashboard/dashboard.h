// services/dashboard/dashboard.h — the curation dashboard: what happened to every record, which
// filter dropped what and why (with the dropped documents themselves), distributions, jobs.
//
// Routes (all GET, read-only):
//   /                      the page (assets compiled into the binary: no CDN, works offline)
//   /api/summary           title, mode, inputs, totals, filter order
//   /api/runs              per input (embedded) and per job (cluster) progress and throughput
//   /api/funnel            records → responses → HTML → filters → extracted → … → curated
//   /api/filters           per filter: seen, kept, dropped, reasons with counts and shares
//   /api/dropped           ?filter=&reason=&page=&per_page=: dropped documents with their scores
//   /api/distributions     lengths, languages, filter scores, domains, duplicate-cluster sizes
//   /api/jobs              cluster jobs (empty for an embedded run); training jobs carry
//                          kind "train" and `training` (step, loss, val_loss, checkpoint, …)
//   /api/training          ?job=ID: a training job's metrics, one object per step (404: none);
//                          for an embedded run, `winnow dashboard --train-runs DIR`'s local runs
//                          (training_runs.h)
//   /metrics               Prometheus text format, "winnow_" prefix
// With a token, every route needs "Authorization: Bearer TOKEN", a "winnow_token" cookie, or
// ?token=TOKEN (which also sets the cookie, so the page's own requests carry it).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "pipeline/store/shard_store.h"
#include "services/dashboard/http_server.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::services {

struct DashboardOptions {
  std::string title = "winnow";
  std::string data_dir;  // for config.yaml (the filter order)
  std::string token;     // empty: no token needed (loopback only)
  // The store to show; called per request (it may reopen to see new commits). Null: no store.
  std::function<absl::StatusOr<std::shared_ptr<pipeline::ShardStore>>()> store;
  // Cluster jobs as JSON (an array of winnow.v1.JobStatus-shaped objects); null: embedded run.
  std::function<nlohmann::json()> jobs;
  // A training job's metrics lines as a JSON array; NotFound for an unknown job. Null: none.
  std::function<absl::StatusOr<nlohmann::json>(const std::string& job_id)> training_metrics;
  bool cluster = false;  // a coordinator's dashboard (else an embedded run's, jobs = local runs)
  int max_scan_documents = 200000;  // distributions read at most this many kept documents
  // Counts the curated tokens for the funnel (null: characters only).
  std::shared_ptr<const trainer::Tokenizer> tokenizer;
};

HttpHandler MakeDashboard(DashboardOptions options);

// A store provider for an embedded run's data dir: opened read-only, reopened at most every
// `refresh_seconds` so a running `winnow run` shows up.
std::function<absl::StatusOr<std::shared_ptr<pipeline::ShardStore>>()> ReadOnlyStore(
    const std::string& data_dir, double refresh_seconds = 2.0);

}  // namespace winnow::services
