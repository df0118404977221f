// services/cluster/shard_reads.h — the Shard service's read RPCs over a ShardStore, shared by the
// standalone shard server and the coordinator's in-process shards: Stats, and ScanDocuments (the
// stored texts under a key prefix, optionally without the documents dedup marked as duplicates:
// what training reads). The caller holds whatever lock guards the store.
#pragma once

#include <grpcpp/grpcpp.h>

#include "pipeline/store/shard_store.h"
#include "proto/winnow.grpc.pb.h"

namespace winnow::services {

// Shards, inputs, documents and the merged stats of every input.
grpc::Status FillShardStats(pipeline::ShardStore& store, v1::ShardStatsReply* reply);

// Streams (key, text) of every matching document, shard after shard (keys ascending within a
// shard); stops early when the client cancels.
grpc::Status StreamDocuments(pipeline::ShardStore& store, const v1::ScanDocumentsRequest& request,
                             grpc::ServerContext* context,
                             grpc::ServerWriter<v1::ScannedDocument>* writer);

}  // namespace winnow::services
