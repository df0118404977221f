// `winnow train --config FILE [--out DIR] [--resume]`: pretrain a GPT on curated documents or
// token shards (trainer/train/trainer.h). Writes DIR/checkpoints/step_NNNNNN/, DIR/metrics.jsonl
// (one line per step) and DIR/config.yaml. DIR defaults to the config's `out`, else
// "winnow-train". Exit 2 for a bad config or an output folder that does not fit, 1 otherwise.
// With --coordinator HOST:PORT the config is submitted as a cluster training job instead
// (`winnow submit --train`).
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
  // The cluster form: submit the config as a training job instead of training here.
  std::string coordinator, token_file, snapshot, name;
  bool wait = false;
};

int TrainMain(const TrainFlags& flags) {
  if (!flags.coordinator.empty()) {
    if (!flags.out.empty() || flags.resume) {
      std::fprintf(stderr,
                   "winnow train: --out and --resume are for local runs; a cluster job keeps its "
                   "output on the worker (see winnow status JOB)\n");
      return kExitUsage;
    }
    return SubmitTraining({flags.coordinator, flags.token_file, flags.config, flags.snapshot,
                           flags.name, flags.wait});
  }
  if (!flags.snapshot.empty() || flags.wait || !flags.token_file.empty()) {
    std::fprintf(stderr, "winnow train: --snapshot, --wait and --token-file need --coordinator\n");
    return kExitUsage;
  }
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
  CLI::App* sub = app.add_subcommand(
      "train", "pretrain a GPT model (CPU reference, or backend: cuda), here or as a cluster job");
  sub->add_option("--config", flags->config, "training config (YAML)")->required();
  sub->add_option("--out", flags->out,
                  "output folder: checkpoints/, metrics.jsonl (default: the config's out, else "
                  "winnow-train)");
  sub->add_flag("--resume", flags->resume, "continue from the newest checkpoint in the output");
  sub->add_option("--coordinator", flags->coordinator,
                  "HOST:PORT: submit as a training job to this coordinator instead (the config "
                  "without data_dir/shards/out; = winnow submit --train)");
  sub->add_option("--snapshot", flags->snapshot,
                  "with --coordinator: train on this snapshot's kept documents (default: all)");
  sub->add_option("--name", flags->name, "with --coordinator: shown in status");
  sub->add_option("--token-file", flags->token_file, "with --coordinator: its bearer token");
  sub->add_flag("--wait", flags->wait, "with --coordinator: follow the job until it ends");
  sub->callback([flags, run] { *run = [flags] { return TrainMain(*flags); }; });
}

}  // namespace winnow::services
