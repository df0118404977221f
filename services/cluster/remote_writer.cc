#include "services/cluster/remote_writer.h"

#include "absl/strings/str_cat.h"
#include "services/cluster/auth.h"

namespace winnow::services {

RemoteInputWriter::RemoteInputWriter(v1::Shard::Stub* stub, const std::string& token,
                                     const std::string& lease_id, const std::string& snapshot,
                                     const std::string& input, int max_dropped_examples_per_reason,
                                     std::atomic<bool>* broken)
    : snapshot_(snapshot),
      input_(input),
      max_dropped_(max_dropped_examples_per_reason),
      broken_(broken) {
  AddToken(&context_, token);
  stream_ = stub->CommitTask(&context_, &reply_);
  v1::TaskResultChunk header;
  header.mutable_header()->set_lease_id(lease_id);
  header.mutable_header()->set_snapshot(snapshot);
  header.mutable_header()->set_input(input);
  if (!stream_->Write(header)) {
    failed_ = true;
    if (broken_ != nullptr) *broken_ = true;
  }
}

RemoteInputWriter::~RemoteInputWriter() {
  if (!finished_) Abort();
}

void RemoteInputWriter::Send(const pipeline::Document& doc, std::string_view filter,
                             std::string_view reason) {
  if (failed_) return;
  v1::TaskResultChunk chunk;
  v1::StoredDocument* d = chunk.mutable_document();
  d->set_offset(doc.key.offset);
  d->set_id(doc.id);
  d->set_url(doc.url);
  d->set_date(doc.date);
  d->set_text(doc.text);
  d->set_metadata_json(doc.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  d->set_filter(std::string(filter));
  d->set_reason(std::string(reason));
  if (!stream_->Write(chunk)) {
    failed_ = true;
    if (broken_ != nullptr) *broken_ = true;
  }
}

void RemoteInputWriter::Add(const pipeline::Document& doc) { Send(doc, "", ""); }

void RemoteInputWriter::AddDropped(const pipeline::Document& doc, std::string_view filter,
                                   std::string_view reason) {
  // The shard keeps the same number; not sending the rest saves the bandwidth.
  if (max_dropped_ >= 0) {
    int& kept = dropped_per_reason_[{std::string(filter), std::string(reason)}];
    if (kept >= max_dropped_) return;
    ++kept;
  }
  Send(doc, filter.empty() ? "unknown" : filter, reason);
}

absl::Status RemoteInputWriter::Commit(const pipeline::Stats& stats) {
  if (finished_) return absl::FailedPreconditionError("Commit called twice");
  finished_ = true;
  if (!failed_) {
    v1::TaskResultChunk chunk;
    chunk.mutable_commit()->set_stats_json(stats.ToJson().dump());
    if (!stream_->Write(chunk)) failed_ = true;
  }
  stream_->WritesDone();
  const grpc::Status status = stream_->Finish();
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("committing ", input_, ": ", status.error_message()));
}

void RemoteInputWriter::Abort() {
  if (finished_) return;
  finished_ = true;
  context_.TryCancel();
  stream_->Finish().ok();
}

}  // namespace winnow::services
