// `winnow stats --data-dir DIR [--json]`: what happened to every record, per input and in total.
#include <cstdio>
#include <memory>
#include <string>

#include "pipeline/run/config.h"
#include "pipeline/run/dedup_stage.h"
#include "pipeline/run/report.h"
#include "pipeline/store/shard_store.h"
#include "services/commands.h"

namespace winnow::services {
namespace {

struct StatsFlags {
  std::string data_dir;
  bool json = false;
};

int StatsMain(const StatsFlags& flags) {
  pipeline::StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(flags.data_dir, options);
  absl::StatusOr<std::map<std::string, pipeline::Stats>> inputs =
      store.ok() ? (*store)->InputStats() : store.status();
  if (!inputs.ok()) {
    std::fprintf(stderr, "winnow stats: %s\n", std::string(inputs.status().message()).c_str());
    return kExitIoError;
  }
  absl::StatusOr<std::map<std::string, pipeline::DedupReport>> dedup =
      pipeline::StoredDedupReports(**store);
  if (!dedup.ok()) {
    std::fprintf(stderr, "winnow stats: %s\n", std::string(dedup.status().message()).c_str());
    return kExitIoError;
  }
  pipeline::Stats total;
  std::vector<std::pair<std::string, pipeline::Stats>> rows;
  nlohmann::json per_input = nlohmann::json::object();
  for (auto& [key, stats] : *inputs) {
    total.Merge(stats);
    // Keys are "snapshot\tinput".
    const std::string input = key.substr(key.find('\t') + 1);
    per_input[key] = stats.ToJson();
    rows.emplace_back(input, std::move(stats));
  }
  if (flags.json) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& [group, report] : *dedup) groups[group] = report.ToJson();
    nlohmann::json out = {{"total", total.ToJson()}, {"inputs", per_input}, {"dedup", groups}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    // Filters in the order the run applied them (its saved config), when that is known.
    std::vector<std::string> order;
    absl::StatusOr<pipeline::RunConfig> config =
        pipeline::LoadConfig(flags.data_dir + "/config.yaml");
    if (config.ok() && config->filters && config->filters["order"]) {
      for (const YAML::Node& name : config->filters["order"])
        order.push_back(name.as<std::string>(""));
    }
    std::printf("%s", pipeline::FormatSummary(rows, total, order).c_str());
    std::printf("%s", pipeline::FormatDedupSummary(*dedup).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddStatsCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* sub = app.add_subcommand("stats", "counts by outcome and reason, per input and total");
  sub->add_option("--data-dir", flags->data_dir, "a data dir written by winnow run")->required();
  sub->add_flag("--json", flags->json, "machine-readable output");
  sub->callback([flags, run] { *run = [flags] { return StatsMain(*flags); }; });
}

}  // namespace winnow::services
