// services/cluster/document_scan.h — the Shard service's ScanDocuments, shared by the standalone
// shard server and the coordinator's in-process shards: the stored texts under a key prefix,
// optionally without the documents dedup marked as duplicates (what training reads).
#pragma once

#include <grpcpp/grpcpp.h>

#include "pipeline/store/shard_store.h"
#include "proto/winnow.grpc.pb.h"

namespace winnow::services {

// Streams (key, text) of every matching document, shard after shard (keys ascending within a
// shard); stops early when the client cancels. The caller holds whatever lock guards `store`.
grpc::Status StreamDocuments(pipeline::ShardStore& store, const v1::ScanDocumentsRequest& request,
                             grpc::ServerContext* context,
                             grpc::ServerWriter<v1::ScannedDocument>* writer);

}  // namespace winnow::services
