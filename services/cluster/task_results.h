// services/cluster/task_results.h — the receiving end of a task's result stream (Shard.CommitTask),
// shared by the coordinator's in-process shard service and standalone shard servers.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "pipeline/stats.h"
#include "pipeline/store/shard_store.h"
#include "proto/winnow.grpc.pb.h"

namespace winnow::services {

// Reads the documents and dropped examples after the header into `writer` (not committed) until
// the commit message, and returns its stats; counts kept documents in `*documents`.
// InvalidArgument for undecodable messages, Cancelled when the stream ends without a commit.
absl::StatusOr<pipeline::Stats> ReceiveTaskResults(grpc::ServerReader<v1::TaskResultChunk>* reader,
                                                   const v1::TaskResultChunk::Header& header,
                                                   pipeline::ShardStore::InputWriter* writer,
                                                   int64_t* documents);

// absl → gRPC status, code for code.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace winnow::services
