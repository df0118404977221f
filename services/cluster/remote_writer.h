// services/cluster/remote_writer.h — an InputWriter that streams a task's results to the shard
// service (Shard.CommitTask): a header naming the lease, one message per document or dropped
// example, then the commit with the stats. Nothing is stored unless the commit succeeds.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "pipeline/store/shard_store.h"
#include "proto/winnow.grpc.pb.h"

namespace winnow::services {

class RemoteInputWriter final : public pipeline::ShardStore::InputWriter {
 public:
  // `broken` (optional) is set when the stream fails, so the task can stop early.
  RemoteInputWriter(v1::Shard::Stub* stub, const std::string& token, const std::string& lease_id,
                    const std::string& snapshot, const std::string& input,
                    int max_dropped_examples_per_reason, std::atomic<bool>* broken);
  ~RemoteInputWriter() override;

  void Add(const pipeline::Document& doc) override;
  void AddDropped(const pipeline::Document& doc, std::string_view filter,
                  std::string_view reason) override;
  // FailedPrecondition when the lease was lost; Unavailable when the stream broke.
  absl::Status Commit(const pipeline::Stats& stats) override;
  void Abort();  // cancels the stream: nothing is stored

 private:
  void Send(const pipeline::Document& doc, std::string_view filter, std::string_view reason);

  grpc::ClientContext context_;
  v1::CommitTaskReply reply_;
  std::unique_ptr<grpc::ClientWriter<v1::TaskResultChunk>> stream_;
  std::string snapshot_, input_;
  int max_dropped_;
  std::map<std::pair<std::string, std::string>, int> dropped_per_reason_;
  std::atomic<bool>* broken_;
  bool failed_ = false, finished_ = false;
};

}  // namespace winnow::services
