// `winnow export-hf --checkpoint DIR --out DIR`: a training checkpoint (a step_NNNNNN folder, or a
// `winnow train` output folder, whose newest checkpoint is used) as a Hugging Face GPT-2 folder
// that transformers' GPT2LMHeadModel.from_pretrained loads (trainer/train/hf_export.h). Exit 2 for
// a missing or unusable checkpoint path or an output path that is not a folder, 1 for I/O errors.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "services/commands.h"
#include "trainer/train/hf_export.h"

namespace winnow::services {

void AddExportHfCommand(CLI::App& app, CommandFn* run);

namespace {

struct ExportHfFlags {
  std::string checkpoint;
  std::string out;
};

int ExportHfMain(const ExportHfFlags& flags) {
  std::error_code ec;
  if (!std::filesystem::is_directory(flags.checkpoint, ec)) {
    std::fprintf(stderr, "winnow export-hf: %s is not a folder\n", flags.checkpoint.c_str());
    return kExitUsage;
  }
  if (std::filesystem::exists(flags.out, ec) && !std::filesystem::is_directory(flags.out, ec)) {
    std::fprintf(stderr, "winnow export-hf: %s exists and is not a folder\n", flags.out.c_str());
    return kExitUsage;
  }
  const absl::Status status = trainer::ExportHf(flags.checkpoint, flags.out);
  if (!status.ok()) {
    std::fprintf(stderr, "winnow export-hf: %s\n", std::string(status.message()).c_str());
    const absl::StatusCode code = status.code();
    return code == absl::StatusCode::kNotFound || code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kFailedPrecondition
               ? kExitUsage
               : kExitIoError;
  }
  std::printf("exported %s to %s (GPT2LMHeadModel.from_pretrained)\n", flags.checkpoint.c_str(),
              flags.out.c_str());
  return kExitOk;
}

}  // namespace

void AddExportHfCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ExportHfFlags>();
  CLI::App* sub = app.add_subcommand(
      "export-hf", "export a training checkpoint as a Hugging Face GPT-2 folder (transformers)");
  sub->add_option("--checkpoint", flags->checkpoint,
                  "a checkpoint folder (checkpoints/step_NNNNNN) or a `winnow train` output "
                  "folder (its newest checkpoint)")
      ->required();
  sub->add_option("--out", flags->out,
                  "output folder: model.safetensors, config.json, tokenizer files")
      ->required();
  sub->callback([flags, run] { *run = [flags] { return ExportHfMain(*flags); }; });
}

}  // namespace winnow::services
