#include "services/cluster/remote_shards.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pipeline/document.h"
#include "services/cluster/auth.h"

namespace winnow::services {
namespace {

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

class RemoteShards final : public pipeline::DedupTarget {
 public:
  RemoteShards(const std::vector<std::string>& addresses, std::string token, rocksdb::DB* meta)
      : addresses_(addresses), token_(std::move(token)), meta_(meta) {
    for (const std::string& address : addresses) {
      stubs_.push_back(v1::Shard::NewStub(MakeChannel(address)));
    }
  }

  absl::StatusOr<std::map<std::string, pipeline::Stats>> InputStats() override {
    std::map<std::string, pipeline::Stats> out;
    for (size_t i = 0; i < stubs_.size(); ++i) {
      grpc::ClientContext context;
      AddToken(&context, token_);
      v1::InputStatsReply reply;
      const grpc::Status status = stubs_[i]->InputStats(&context, v1::InputStatsRequest(), &reply);
      if (!status.ok()) return FromGrpc(status, "input stats of shard " + addresses_[i]);
      for (const auto& [key, json] : reply.stats_json()) {
        out[key] = pipeline::Stats::FromJson(nlohmann::json::parse(json));
      }
    }
    return out;
  }

  absl::Status ScanTexts(
      const std::string& key_prefix,
      const std::function<bool(std::string_view key, std::string_view text)>& fn) override {
    for (size_t i = 0; i < stubs_.size(); ++i) {
      grpc::ClientContext context;
      AddToken(&context, token_);
      v1::ScanDocumentsRequest request;
      request.set_key_prefix(key_prefix);
      auto stream = stubs_[i]->ScanDocuments(&context, request);
      v1::ScannedDocument doc;
      bool more = true;
      while (more && stream->Read(&doc)) more = fn(doc.key(), doc.text());
      if (!more) context.TryCancel();
      const grpc::Status status = stream->Finish();
      if (more && !status.ok()) return FromGrpc(status, "scanning shard " + addresses_[i]);
      if (!more) return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status ClearDuplicates(std::string_view key_prefix) override {
    for (size_t i = 0; i < stubs_.size(); ++i) {
      v1::ApplyDuplicatesRequest request;
      request.set_clear(true);
      request.set_clear_prefix(std::string(key_prefix));
      if (absl::Status s = Apply(i, {request}); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status PutDuplicates(
      const std::vector<std::pair<std::string, pipeline::ShardStore::DuplicateMark>>& marks)
      override {
    std::vector<v1::ApplyDuplicatesRequest> per_shard(stubs_.size());
    for (const auto& [key, mark] : marks) {
      pipeline::DocumentKey decoded;
      if (!pipeline::DocumentKey::Decode(key, &decoded)) {
        return absl::InvalidArgumentError("duplicate mark for an undecodable document key");
      }
      const int shard =
          ShardIndexOf(decoded.snapshot, decoded.input, static_cast<int>(stubs_.size()));
      v1::DuplicateMark* out = per_shard[shard].add_marks();
      out->set_key(key);
      out->set_kind(mark.kind);
      out->set_kept_key(mark.kept_key);
    }
    for (size_t i = 0; i < stubs_.size(); ++i) {
      if (per_shard[i].marks_size() == 0) continue;
      if (absl::Status s = Apply(i, {per_shard[i]}); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status PutMeta(std::string_view name, std::optional<std::string_view> value) override {
    rocksdb::WriteOptions w;
    w.sync = true;
    const std::string key = absl::StrCat("meta/", std::string(name));
    const rocksdb::Status s = value.has_value()
                                  ? meta_->Put(w, key, rocksdb::Slice(value->data(), value->size()))
                                  : meta_->Delete(w, key);
    if (!s.ok()) return absl::InternalError("coordinator state: " + s.ToString());
    return absl::OkStatus();
  }

  absl::Status ForEachMeta(
      std::string_view name_prefix,
      const std::function<bool(std::string_view name, std::string_view value)>& fn) override {
    const std::string prefix = absl::StrCat("meta/", std::string(name_prefix));
    std::unique_ptr<rocksdb::Iterator> it(meta_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (!fn(key.substr(5), std::string_view(it->value().data(), it->value().size()))) break;
    }
    if (!it->status().ok()) return absl::InternalError(it->status().ToString());
    return absl::OkStatus();
  }

 private:
  absl::Status Apply(size_t shard, const std::vector<v1::ApplyDuplicatesRequest>& requests) {
    grpc::ClientContext context;
    AddToken(&context, token_);
    v1::ApplyDuplicatesReply reply;
    auto stream = stubs_[shard]->ApplyDuplicates(&context, &reply);
    for (const auto& request : requests) {
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    return FromGrpc(stream->Finish(), "writing duplicate marks to shard " + addresses_[shard]);
  }

  std::vector<std::string> addresses_;
  std::string token_;
  rocksdb::DB* meta_;
  std::vector<std::unique_ptr<v1::Shard::Stub>> stubs_;
};

}  // namespace

int ShardIndexOf(std::string_view snapshot, std::string_view input, int num_shards) {
  uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (char c : snapshot) mix(static_cast<unsigned char>(c));
  mix(0);
  for (char c : input) mix(static_cast<unsigned char>(c));
  return static_cast<int>(h % static_cast<uint64_t>(std::max(1, num_shards)));
}

std::unique_ptr<pipeline::DedupTarget> RemoteShardsTarget(const std::vector<std::string>& addresses,
                                                          const std::string& token,
                                                          rocksdb::DB* meta_db) {
  return std::make_unique<RemoteShards>(addresses, token, meta_db);
}

absl::Status WriteShardStats(const std::vector<std::string>& addresses, const std::string& token,
                             const std::string& dedup_json) {
  for (const std::string& address : addresses) {
    auto stub = v1::Shard::NewStub(MakeChannel(address));
    grpc::ClientContext context;
    AddToken(&context, token);
    v1::WriteStatsRequest request;
    request.set_dedup_json(dedup_json);
    v1::WriteStatsReply reply;
    if (absl::Status s = FromGrpc(stub->WriteStats(&context, request, &reply),
                                  "writing stats of shard " + address);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace winnow::services
