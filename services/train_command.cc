// `winnow train --config FILE [--out DIR] [--resume]`: pretrain a GPT on curated documents or
// token shards (trainer/train/trainer.h). Writes DIR/checkpoints/step_NNNNNN/, DIR/metrics.jsonl
// (one line per step) and DIR/config.yaml. DIR defaults to the config's `out`, else
// "winnow-train". Exit 2 for a bad config or an output folder that does not fit, 1 otherwise.
#include <cstdio>
#include <memory>
#include <string>

#include "services/commands.h"
#include "trainer/train/train_config.h"
#include "trainer/train/trainer.h"

namespace winnow::services {
namespace {

struct TrainFlags {
  std::string config;
  std::string out;
  bool resume = false;
};

int TrainMain(const TrainFlags& flags) {
  absl::StatusOr<trainer::TrainConfig> config = trainer::LoadTrainConfig(flags.config);
  if (!config.ok()) {
    std::fprintf(stderr, "winnow train: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  trainer::TrainOptions options;
  options.out_dir = !flags.out.empty()     ? flags.out
                    : !config->out.empty() ? config->out
                                           : "winnow-train";
  options.resume = flags.resume;
  absl::StatusOr<trainer::TrainResult> result = trainer::Train(*config, options);
  if (!result.ok()) {
    std::fprintf(stderr, "winnow train: %s\n", std::string(result.status().message()).c_str());
    const absl::StatusCode code = result.status().code();
    return code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kFailedPrecondition
               ? kExitUsage
               : kExitIoError;
  }
  if (result->last_step < result->first_step) {
    std::printf("nothing to do: %s is already at step %lld\n", options.out_dir.c_str(),
                static_cast<long long>(result->last_step));
    return kExitOk;
  }
  std::printf("trained steps %lld–%lld into %s", static_cast<long long>(result->first_step),
              static_cast<long long>(result->last_step), options.out_dir.c_str());
  if (!result->losses.empty()) std::printf(": loss %.4f", result->losses.back());
  if (result->final_val_loss) std::printf(", val_loss %.4f", *result->final_val_loss);
  if (result->final_val_bpb) std::printf(", val_bpb %.4f", *result->final_val_bpb);
  std::printf("\n");
  return kExitOk;
}

}  // namespace

void AddTrainCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* sub = app.add_subcommand("train", "pretrain a GPT model (CPU reference)");
  sub->add_option("--config", flags->config, "training config (YAML)")->required();
  sub->add_option("--out", flags->out,
                  "output folder: checkpoints/, metrics.jsonl (default: the config's out, else "
                  "winnow-train)");
  sub->add_flag("--resume", flags->resume, "continue from the newest checkpoint in the output");
  sub->callback([flags, run] { *run = [flags] { return TrainMain(*flags); }; });
}

}  // namespace winnow::services
