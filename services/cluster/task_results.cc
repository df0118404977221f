#include "services/cluster/task_results.h"

#include "nlohmann/json.hpp"

namespace winnow::services {

absl::StatusOr<pipeline::Stats> ReceiveTaskResults(grpc::ServerReader<v1::TaskResultChunk>* reader,
                                                   const v1::TaskResultChunk::Header& header,
                                                   pipeline::ShardStore::InputWriter* writer,
                                                   int64_t* documents) {
  v1::TaskResultChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.has_commit()) {
      try {
        return pipeline::Stats::FromJson(nlohmann::json::parse(chunk.commit().stats_json()));
      } catch (const std::exception&) {
        return absl::InvalidArgumentError("undecodable stats in the commit message");
      }
    }
    if (!chunk.has_document()) continue;
    const v1::StoredDocument& d = chunk.document();
    pipeline::Document doc;
    doc.key = {header.snapshot(), header.input(), d.offset()};
    doc.id = d.id();
    doc.url = d.url();
    doc.date = d.date();
    doc.text = d.text();
    doc.metadata = nlohmann::json::parse(d.metadata_json(), nullptr, false);
    if (doc.metadata.is_discarded()) {
      return absl::InvalidArgumentError("undecodable metadata of document " + d.id());
    }
    if (d.filter().empty()) {
      writer->Add(doc);
      ++*documents;
    } else {
      writer->AddDropped(doc, d.filter(), d.reason());
    }
  }
  return absl::CancelledError("the result stream ended without a commit");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace winnow::services
