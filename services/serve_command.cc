// `winnow serve coordinator --data-dir DIR --grpc HOST:PORT [--http HOST:PORT] [--token-file F]`
// and `winnow serve worker --coordinator HOST:PORT [--threads N] [--token-file F]`: the cluster's
// two long-running processes. SIGINT or SIGTERM stops them cleanly (a worker gives its task back).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "services/cluster/auth.h"
#include "services/cluster/coordinator.h"
#include "services/cluster/shard_server.h"
#include "services/cluster/worker.h"
#include "services/commands.h"
#include "services/dashboard/dashboard.h"

namespace winnow::services {
namespace {

struct ServeFlags {
  CoordinatorOptions coordinator;
  WorkerOptions worker;
  ShardServerOptions shard;
  std::string token_file;
  std::string http;
};

// Blocks SIGINT and SIGTERM in every thread started after this, and calls `on_signal` from a
// thread of its own when one arrives.
std::thread WatchSignals(std::function<void()> on_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, on_signal] {
    int signal = 0;
    sigwait(&set, &signal);
    on_signal();
  });
}

bool LoadToken(const std::string& path, const char* who, std::string* token) {
  if (path.empty()) return true;
  absl::StatusOr<std::string> read = ReadTokenFile(path);
  if (!read.ok()) {
    std::fprintf(stderr, "winnow serve %s: %s\n", who,
                 std::string(read.status().message()).c_str());
    return false;
  }
  *token = *read;
  return true;
}

int CoordinatorMain(ServeFlags flags) {
  if (!LoadToken(flags.token_file, "coordinator", &flags.coordinator.token)) return kExitUsage;
  if (!flags.http.empty() && flags.coordinator.token.empty() && !IsLoopbackAddress(flags.http)) {
    std::fprintf(stderr,
                 "winnow serve coordinator: --http %s is not a loopback address: give "
                 "--token-file\n",
                 flags.http.c_str());
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator = Coordinator::Start(flags.coordinator);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "winnow serve coordinator: %s\n",
                 std::string(coordinator.status().message()).c_str());
    return absl::IsInvalidArgument(coordinator.status()) ||
                   absl::IsFailedPrecondition(coordinator.status())
               ? kExitUsage
               : kExitIoError;
  }
  const std::string address = flags.coordinator.grpc_address;
  const std::string host = address.substr(0, address.rfind(':'));
  std::fprintf(stderr, "winnow serve coordinator: gRPC on %s:%d, data in %s\n", host.c_str(),
               (*coordinator)->port(), flags.coordinator.data_dir.c_str());
  std::fflush(stderr);
  std::unique_ptr<HttpServer> http;
  if (!flags.http.empty()) {
    Coordinator* c = coordinator->get();
    DashboardOptions options;
    options.title = "coordinator " + flags.coordinator.data_dir;
    options.data_dir = flags.coordinator.data_dir;
    options.token = flags.coordinator.token;
    options.store = [c]() -> absl::StatusOr<std::shared_ptr<pipeline::ShardStore>> {
      return c->store();
    };
    options.cluster = true;
    options.jobs = [c] { return c->JobsJson(); };
    options.training_metrics = [c](const std::string& job) { return c->TrainingMetricsJson(job); };
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(flags.http, MakeDashboard(options));
    if (!server.ok()) {
      std::fprintf(stderr, "winnow serve coordinator: %s\n",
                   std::string(server.status().message()).c_str());
      return kExitUsage;
    }
    http = std::move(*server);
    std::fprintf(stderr, "winnow serve coordinator: dashboard on http://%s:%d/\n",
                 flags.http.substr(0, flags.http.rfind(':')).c_str(), http->port());
    std::fflush(stderr);
  }
  Coordinator* raw = coordinator->get();
  std::thread watcher = WatchSignals([raw] { raw->Shutdown(); });
  watcher.detach();
  (*coordinator)->Wait();
  if (http != nullptr) http->Stop();
  (*coordinator)->Shutdown();
  return kExitOk;
}

int ShardMain(ServeFlags flags) {
  if (!LoadToken(flags.token_file, "shard", &flags.shard.token)) return kExitUsage;
  absl::StatusOr<std::unique_ptr<ShardServer>> shard = ShardServer::Start(flags.shard);
  if (!shard.ok()) {
    std::fprintf(stderr, "winnow serve shard: %s\n", std::string(shard.status().message()).c_str());
    return absl::IsFailedPrecondition(shard.status()) ? kExitUsage : kExitIoError;
  }
  const std::string address = flags.shard.grpc_address;
  std::fprintf(stderr, "winnow serve shard: gRPC on %s:%d, data in %s\n",
               address.substr(0, address.rfind(':')).c_str(), (*shard)->port(),
               flags.shard.data_dir.c_str());
  std::fflush(stderr);
  ShardServer* raw = shard->get();
  std::thread watcher = WatchSignals([raw] { raw->Shutdown(); });
  watcher.detach();
  (*shard)->Wait();
  return kExitOk;
}

int WorkerMain(ServeFlags flags) {
  if (!LoadToken(flags.token_file, "worker", &flags.worker.token)) return kExitUsage;
  static std::atomic<bool> stop{false};
  std::thread watcher = WatchSignals([] { stop = true; });
  watcher.detach();
  RunWorker(flags.worker, stop);
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve =
      app.add_subcommand("serve", "run a cluster process: coordinator, worker or shard");
  serve->require_subcommand(1);

  CLI::App* c = serve->add_subcommand("coordinator", "jobs, task leases and the shard store");
  c->add_option("--data-dir", flags->coordinator.data_dir, "shards and coordinator state")
      ->required();
  c->add_option("--grpc", flags->coordinator.grpc_address, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  c->add_option("--http", flags->http, "HOST:PORT of the dashboard");
  c->add_option("--token-file", flags->token_file, "bearer token every client must send");
  c->add_option("--allow-root", flags->coordinator.allowed_roots,
                "a local folder jobs may read (repeatable; default: URLs only)");
  c->add_option("--shards", flags->coordinator.shards,
                "standalone shard servers HOST:PORT,… (`winnow serve shard`); default: in process")
      ->delimiter(',');
  c->add_option("--lease-seconds", flags->coordinator.lease_seconds,
                "a task's lease without heartbeats")
      ->capture_default_str();
  c->add_option("--max-attempts", flags->coordinator.max_attempts, "attempts before a task fails")
      ->capture_default_str();
  c->add_option("--retry-backoff-seconds", flags->coordinator.retry_backoff_seconds,
                "wait before the second attempt; doubles after")
      ->capture_default_str();
  c->callback([flags, run] { *run = [flags] { return CoordinatorMain(*flags); }; });

  CLI::App* sh = serve->add_subcommand("shard", "a standalone shard server for a coordinator");
  sh->add_option("--data-dir", flags->shard.data_dir, "its RocksDB shards")->required();
  sh->add_option("--grpc", flags->shard.grpc_address, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  sh->add_option("--coordinator", flags->shard.coordinator, "HOST:PORT")->required();
  sh->add_option("--token-file", flags->token_file, "the cluster's bearer token");
  sh->callback([flags, run] { *run = [flags] { return ShardMain(*flags); }; });

  CLI::App* w = serve->add_subcommand("worker", "lease tasks and run them");
  w->add_option("--coordinator", flags->worker.coordinator, "HOST:PORT")->required();
  w->add_option("--threads", flags->worker.threads, "page threads (default: all cores)");
  w->add_option("--token-file", flags->token_file, "bearer token of the coordinator");
  w->add_option("--name", flags->worker.name, "shown in status (default: host:pid)");
  w->add_option("--max-tasks", flags->worker.max_tasks, "exit after this many tasks");
  w->add_option("--work-dir", flags->worker.work_dir,
                "training tasks: copied documents, checkpoints and logs (default: winnow-worker)");
  w->callback([flags, run] { *run = [flags] { return WorkerMain(*flags); }; });
}

}  // namespace winnow::services
