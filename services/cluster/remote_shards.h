// services/cluster/remote_shards.h — standalone shard servers (`winnow serve shard`) seen from the
// coordinator: which server owns an input, and the dedup stage's view of all of them together.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/run/dedup_stage.h"
#include "proto/winnow.grpc.pb.h"
#include "rocksdb/db.h"

namespace winnow::services {

// The shard server (index into the --shards list) that stores (snapshot, input): FNV-1a, stable
// across processes and releases.
int ShardIndexOf(std::string_view snapshot, std::string_view input, int num_shards);

// DedupTarget over shard servers: scans stream from each, marks are routed by document key, and
// the dedup state records live in the coordinator's own RocksDB (`meta_db`, keys "meta/…").
std::unique_ptr<pipeline::DedupTarget> RemoteShardsTarget(const std::vector<std::string>& addresses,
                                                          const std::string& token,
                                                          rocksdb::DB* meta_db);

// Asks every shard server to write its stats.json (with the dedup reports).
absl::Status WriteShardStats(const std::vector<std::string>& addresses, const std::string& token,
                             const std::string& dedup_json);

}  // namespace winnow::services
