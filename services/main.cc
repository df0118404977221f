// services/main.cc — the `winnow` binary: one subcommand per mode (DESIGN.md, "CLI contract").
#include <cstdio>
#include <string>

#include "services/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"winnow: turn web crawls into clean, deduplicated training text", "winnow"};
  app.require_subcommand(1);
  winnow::services::CommandFn command;
  winnow::services::AddRunCommand(app, &command);
  winnow::services::AddExtractCommand(app, &command);
  winnow::services::AddStatsCommand(app, &command);
  winnow::services::AddExportCommand(app, &command);
  winnow::services::AddFilterCommand(app, &command);
  winnow::services::AddDedupCommand(app, &command);
  winnow::services::AddServeCommand(app, &command);
  winnow::services::AddSubmitCommand(app, &command);
  winnow::services::AddStatusCommand(app, &command);
  winnow::services::AddCancelCommand(app, &command);
  winnow::services::AddDashboardCommand(app, &command);
  winnow::services::AddTokenizerCommand(app, &command);
  winnow::services::AddTrainCommand(app, &command);
  winnow::services::AddExportHfCommand(app, &command);
  winnow::services::AddSampleCommand(app, &command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : winnow::services::kExitUsage;
  }
  return command ? command() : winnow::services::kExitUsage;
}
