#include "services/cluster/shard_reads.h"

#include <map>
#include <string>

#include "services/cluster/task_results.h"

namespace winnow::services {

grpc::Status FillShardStats(pipeline::ShardStore& store, v1::ShardStatsReply* reply) {
  absl::StatusOr<std::map<std::string, pipeline::Stats>> inputs = store.InputStats();
  if (!inputs.ok()) return ToGrpcStatus(inputs.status());
  pipeline::Stats total;
  for (const auto& [name, stats] : *inputs) total.Merge(stats);
  absl::StatusOr<uint64_t> documents = store.CountDocuments();
  if (!documents.ok()) return ToGrpcStatus(documents.status());
  reply->set_num_shards(store.num_shards());
  reply->set_inputs(static_cast<int64_t>(inputs->size()));
  reply->set_documents(static_cast<int64_t>(*documents));
  reply->set_stats_json(total.ToJson().dump());
  return grpc::Status::OK;
}

grpc::Status StreamDocuments(pipeline::ShardStore& store, const v1::ScanDocumentsRequest& request,
                             grpc::ServerContext* context,
                             grpc::ServerWriter<v1::ScannedDocument>* writer) {
  v1::ScannedDocument out;
  absl::Status inner;
  const absl::Status status =
      store.ScanTexts(request.key_prefix(), [&](std::string_view key, std::string_view text) {
        if (request.kept_only()) {
          pipeline::DocumentKey decoded;
          if (!pipeline::DocumentKey::Decode(key, &decoded)) return true;  // not a document key
          absl::StatusOr<std::optional<pipeline::ShardStore::DuplicateMark>> mark =
              store.DuplicateOf(decoded);
          if (!mark.ok()) {
            inner = mark.status();
            return false;
          }
          if (mark->has_value()) return true;
        }
        out.set_key(std::string(key));
        out.set_text(std::string(text));
        return !context->IsCancelled() && writer->Write(out);
      });
  return ToGrpcStatus(inner.ok() ? status : inner);
}

}  // namespace winnow::services
