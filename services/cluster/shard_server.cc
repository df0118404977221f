#include "services/cluster/shard_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <mutex>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "pipeline/stats.h"
#include "pipeline/store/shard_store.h"
#include "proto/winnow.grpc.pb.h"
#include "services/cluster/auth.h"
#include "services/cluster/shard_reads.h"
#include "services/cluster/task_results.h"

namespace winnow::services {
namespace {

grpc::Status ToGrpc(const absl::Status& status) { return ToGrpcStatus(status); }

}  // namespace

struct ShardServer::Impl final : public v1::Shard::Service {
  ShardServerOptions options;
  TokenCheck auth{""};
  std::unique_ptr<pipeline::ShardStore> store;
  std::shared_mutex store_mutex;  // commits and scans shared; mark rewrites exclusive
  std::unique_ptr<v1::Coordinator::Stub> coordinator;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  void Log(const std::string& line) {
    if (options.log) std::fprintf(stderr, "shard: %s\n", line.c_str());
  }

  grpc::Status CheckLease(const std::string& lease_id, v1::CheckLeaseReply* reply) {
    grpc::ClientContext context;
    AddToken(&context, options.token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CheckLeaseRequest request;
    request.set_lease_id(lease_id);
    const grpc::Status status = coordinator->CheckLease(&context, request, reply);
    if (!status.ok()) {
      return grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "cannot reach the coordinator to check the lease: " + status.error_message());
    }
    if (!reply->held()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the lease was lost");
    }
    return grpc::Status::OK;
  }

  grpc::Status CommitTask(grpc::ServerContext* context,
                          grpc::ServerReader<v1::TaskResultChunk>* reader,
                          v1::CommitTaskReply* reply) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    v1::TaskResultChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_header()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a result stream starts with a header");
    }
    const v1::TaskResultChunk::Header header = chunk.header();
    v1::CheckLeaseReply lease;
    if (grpc::Status s = CheckLease(header.lease_id(), &lease); !s.ok()) return s;
    if (lease.input() != header.input() || lease.snapshot() != header.snapshot()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the header names another input than the lease's task");
    }
    std::shared_lock<std::shared_mutex> lock(store_mutex);
    auto writer = store->StartInput(header.snapshot(), header.input());
    int64_t documents = 0;
    absl::StatusOr<pipeline::Stats> stats =
        ReceiveTaskResults(reader, header, writer.get(), &documents);
    if (!stats.ok()) return ToGrpc(stats.status());
    if (grpc::Status s = CheckLease(header.lease_id(), &lease); !s.ok()) return s;
    if (absl::Status s = writer->Commit(*stats); !s.ok()) return ToGrpc(s);
    // Stored. Should the lease be lost now, the task is redone and replaces this, identically.
    grpc::ClientContext done_context;
    AddToken(&done_context, options.token);
    done_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CompleteTaskRequest done;
    done.set_lease_id(header.lease_id());
    done.set_stats_json(stats->ToJson().dump());
    v1::CompleteTaskReply done_reply;
    const grpc::Status completed = coordinator->CompleteTask(&done_context, done, &done_reply);
    if (!completed.ok()) return completed;
    reply->set_documents(documents);
    return grpc::Status::OK;
  }

  grpc::Status Stats(grpc::ServerContext* context, const v1::ShardStatsRequest*,
                     v1::ShardStatsReply* reply) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(store_mutex);
    return FillShardStats(*store, reply);
  }

  grpc::Status ScanDocuments(grpc::ServerContext* context, const v1::ScanDocumentsRequest* request,
                             grpc::ServerWriter<v1::ScannedDocument>* writer) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(store_mutex);
    return StreamDocuments(*store, *request, context, writer);
  }

  grpc::Status ApplyDuplicates(grpc::ServerContext* context,
                               grpc::ServerReader<v1::ApplyDuplicatesRequest>* reader,
                               v1::ApplyDuplicatesReply* reply) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(store_mutex);
    v1::ApplyDuplicatesRequest request;
    int64_t marks = 0;
    while (reader->Read(&request)) {
      if (request.clear()) {
        if (absl::Status s = store->ClearDuplicates(request.clear_prefix()); !s.ok()) {
          return ToGrpc(s);
        }
      }
      std::vector<std::pair<std::string, pipeline::ShardStore::DuplicateMark>> batch;
      for (const v1::DuplicateMark& m : request.marks()) {
        batch.emplace_back(m.key(), pipeline::ShardStore::DuplicateMark{m.kind(), m.kept_key()});
      }
      if (absl::Status s = store->PutDuplicates(batch); !s.ok()) return ToGrpc(s);
      marks += request.marks_size();
    }
    reply->set_marks(marks);
    return grpc::Status::OK;
  }

  grpc::Status InputStats(grpc::ServerContext* context, const v1::InputStatsRequest*,
                          v1::InputStatsReply* reply) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(store_mutex);
    auto inputs = store->InputStats();
    if (!inputs.ok()) return ToGrpc(inputs.status());
    for (const auto& [key, stats] : *inputs) {
      (*reply->mutable_stats_json())[key] = stats.ToJson().dump();
    }
    return grpc::Status::OK;
  }

  grpc::Status WriteStats(grpc::ServerContext* context, const v1::WriteStatsRequest* request,
                          v1::WriteStatsReply*) override {
    if (grpc::Status s = auth.Check(*context); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(store_mutex);
    // The cluster-wide dedup reports, so `winnow stats --data-dir` here shows them too.
    const nlohmann::json reports = nlohmann::json::parse(request->dedup_json(), nullptr, false);
    if (reports.is_object()) {
      for (const auto& [group, report] : reports.items()) {
        const nlohmann::json state = {{"digest", "cluster"}, {"report", report}};
        if (absl::Status s = store->PutMeta("dedup/" + group, state.dump()); !s.ok()) {
          return ToGrpc(s);
        }
      }
    }
    return ToGrpc(store->WriteStatsJson());
  }
};

ShardServer::ShardServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShardServer::~ShardServer() { Shutdown(); }
int ShardServer::port() const { return impl_->port; }
void ShardServer::Wait() { impl_->server->Wait(); }
void ShardServer::Shutdown() {
  if (impl_->server != nullptr) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
}

absl::StatusOr<std::unique_ptr<ShardServer>> ShardServer::Start(const ShardServerOptions& options) {
  if (options.token.empty() && !IsLoopbackAddress(options.grpc_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--grpc ", options.grpc_address, " is not a loopback address: give --token-file"));
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->auth = TokenCheck(options.token);
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(options.data_dir, pipeline::StoreOptions{});
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  impl->coordinator = v1::Coordinator::NewStub(MakeChannel(options.coordinator));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(), &impl->port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(impl.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.grpc_address));
  }
  return std::unique_ptr<ShardServer>(new ShardServer(std::move(impl)));
}

}  // namespace winnow::services
