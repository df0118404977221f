// services/commands.h — the `winnow` subcommands. Each Add*Command registers one subcommand with
// its flags on the CLI11 app and sets *run to the function that executes it; the function returns
// the process exit code (0 success, 1 fatal I/O error, 2 usage or config error).
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"

namespace winnow::services {

using CommandFn = std::function<int()>;

void AddRunCommand(CLI::App& app, CommandFn* run);
void AddExtractCommand(CLI::App& app, CommandFn* run);
void AddStatsCommand(CLI::App& app, CommandFn* run);
void AddExportCommand(CLI::App& app, CommandFn* run);
void AddFilterCommand(CLI::App& app, CommandFn* run);
void AddDedupCommand(CLI::App& app, CommandFn* run);
void AddServeCommand(CLI::App& app, CommandFn* run);
void AddSubmitCommand(CLI::App& app, CommandFn* run);
void AddStatusCommand(CLI::App& app, CommandFn* run);
void AddCancelCommand(CLI::App& app, CommandFn* run);
void AddDashboardCommand(CLI::App& app, CommandFn* run);
void AddTokenizerCommand(CLI::App& app, CommandFn* run);
void AddTrainCommand(CLI::App& app, CommandFn* run);
void AddExportHfCommand(CLI::App& app, CommandFn* run);
void AddSampleCommand(CLI::App& app, CommandFn* run);
// `winnow tokenizer train` (tokenizer_train_command.cc), under the tokenizer command.
void AddTokenizerTrainCommand(CLI::App* tokenizer, CommandFn* run);

// A training job for a coordinator (`winnow submit --train`, `winnow train --coordinator`):
// submits TRAIN_CONFIG on the kept documents of `snapshot` (empty: all), prints the job id and,
// with `wait`, follows its progress until it ends. Returns the exit code.
struct TrainingSubmission {
  std::string coordinator, token_file, config_path, snapshot, name;
  bool wait = false;
};
int SubmitTraining(const TrainingSubmission& submission);

// Exit codes of the CLI contract.
inline constexpr int kExitOk = 0;
inline constexpr int kExitIoError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace winnow::services
