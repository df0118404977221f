// `winnow dashboard --data-dir DIR --http HOST:PORT [--token-file F]`: the dashboard of an
// embedded run's data dir (read-only; it follows a run in progress).
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "services/cluster/auth.h"
#include "services/commands.h"
#include "services/dashboard/dashboard.h"
#include "services/dashboard/training_runs.h"

namespace winnow::services {
namespace {

struct DashboardFlags {
  std::string data_dir;
  std::string http = "127.0.0.1:8080";
  std::string token_file;
  std::string tokenizer = "gpt2";
  std::string train_runs;  // a folder of `winnow train --out` folders (or one)
};

int DashboardMain(const DashboardFlags& flags) {
  std::string token;
  if (!flags.token_file.empty()) {
    absl::StatusOr<std::string> read = ReadTokenFile(flags.token_file);
    if (!read.ok()) {
      std::fprintf(stderr, "winnow dashboard: %s\n", std::string(read.status().message()).c_str());
      return kExitUsage;
    }
    token = *read;
  }
  if (token.empty() && !IsLoopbackAddress(flags.http)) {
    std::fprintf(stderr,
                 "winnow dashboard: --http %s is not a loopback address: give --token-file\n",
                 flags.http.c_str());
    return kExitUsage;
  }
  auto store = ReadOnlyStore(flags.data_dir);
  if (absl::StatusOr<std::shared_ptr<pipeline::ShardStore>> opened = store(); !opened.ok()) {
    std::fprintf(stderr, "winnow dashboard: %s\n", std::string(opened.status().message()).c_str());
    return kExitIoError;
  }
  DashboardOptions options;
  options.title = flags.data_dir;
  options.data_dir = flags.data_dir;
  options.token = token;
  options.store = store;
  if (!flags.train_runs.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(flags.train_runs, ec)) {
      std::fprintf(stderr, "winnow dashboard: --train-runs %s is not a folder\n",
                   flags.train_runs.c_str());
      return kExitUsage;
    }
    const std::string runs = flags.train_runs;
    options.jobs = [runs] { return TrainingRunsJson(runs); };
    options.training_metrics = [runs](const std::string& id) {
      return TrainingRunMetrics(runs, id);
    };
  }
  if (!flags.tokenizer.empty() && flags.tokenizer != "none") {
    absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> tokenizer =
        trainer::Tokenizer::Load(flags.tokenizer);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "winnow dashboard: %s (tokens not counted)\n",
                   std::string(tokenizer.status().message()).c_str());
    } else {
      options.tokenizer = std::move(*tokenizer);
    }
  }
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(flags.http, MakeDashboard(options));
  if (!server.ok()) {
    std::fprintf(stderr, "winnow dashboard: %s\n", std::string(server.status().message()).c_str());
    return absl::IsInvalidArgument(server.status()) ? kExitUsage : kExitIoError;
  }
  const std::string host = flags.http.substr(0, flags.http.rfind(':'));
  std::fprintf(stderr, "winnow dashboard: http://%s:%d/%s (data in %s; Ctrl-C stops)\n",
               host.c_str(), (*server)->port(), token.empty() ? "" : "?token=…",
               flags.data_dir.c_str());
  std::fflush(stderr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int signal = 0;
  sigwait(&set, &signal);
  (*server)->Stop();
  return kExitOk;
}

}  // namespace

void AddDashboardCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<DashboardFlags>();
  CLI::App* sub = app.add_subcommand("dashboard", "browse a run's filter statistics in a browser");
  sub->add_option("--data-dir", flags->data_dir, "a data dir written by winnow run")->required();
  sub->add_option("--http", flags->http, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  sub->add_option("--token-file", flags->token_file, "required when not on loopback");
  sub->add_option("--tokenizer", flags->tokenizer,
                  "counts curated tokens with this SPEC (none: off)")
      ->capture_default_str();
  sub->add_option("--train-runs", flags->train_runs,
                  "also show the training runs (winnow train --out folders) in this folder");
  sub->callback([flags, run] { *run = [flags] { return DashboardMain(*flags); }; });
}

}  // namespace winnow::services
