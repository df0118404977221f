// `winnow sample --checkpoint DIR --prompt TEXT [--temperature T] [--top-k K] [--top-p P]
// [--beam N] [--max-tokens N] [--seed S] [--tokenizer SPEC]`: generate text from a model that
// `winnow train` wrote (trainer/model/sampler.h, on the CPU with a KV cache). DIR is a checkpoint
// step folder (with state.json) or a training output folder, whose newest checkpoint is used. The
// tokenizer and end-of-text id are those recorded in the checkpoint unless --tokenizer overrides
// the tokenizer. Prints the prompt followed by the generated text to stdout. Exit 2 for bad flags,
// paths or a checkpoint/tokenizer mismatch, 1 for a checkpoint that cannot be read.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/text/unicode.h"
#include "services/commands.h"
#include "trainer/model/gpt.h"
#include "trainer/model/sampler.h"
#include "trainer/tokenizer/tokenizer.h"
#include "trainer/train/checkpoint.h"

namespace winnow::services {

// Declared in commands.h once wired into main.cc.
void AddSampleCommand(CLI::App& app, CommandFn* run);

namespace {

struct SampleFlags {
  std::string checkpoint;
  std::string prompt;
  std::string tokenizer;  // SPEC; empty: the checkpoint's
  trainer::SampleOptions options;
};

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "winnow sample: %s\n", std::string(status.message()).c_str());
  const absl::StatusCode code = status.code();
  return code == absl::StatusCode::kNotFound || code == absl::StatusCode::kInvalidArgument ||
                 code == absl::StatusCode::kFailedPrecondition
             ? kExitUsage
             : kExitIoError;
}

int SampleMain(const SampleFlags& flags) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(flags.checkpoint, ec)) {
    return Fail(absl::NotFoundError("--checkpoint " + flags.checkpoint + " is not a folder"));
  }
  // A step folder has state.json; otherwise the newest checkpoint of a training output folder.
  std::string dir = flags.checkpoint;
  if (!fs::exists(fs::path(dir) / "state.json", ec)) {
    absl::StatusOr<std::string> latest = trainer::LatestCheckpoint(dir);
    if (!latest.ok()) return Fail(latest.status());
    dir = *latest;
  }
  absl::StatusOr<trainer::CheckpointInfo> info = trainer::ReadCheckpointInfo(dir);
  if (!info.ok()) return Fail(info.status());
  const std::string spec = !flags.tokenizer.empty() ? flags.tokenizer : info->tokenizer;
  if (spec.empty()) {
    return Fail(absl::InvalidArgumentError(dir + " records no tokenizer; pass --tokenizer"));
  }
  absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> tokenizer = trainer::Tokenizer::Load(spec);
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  absl::StatusOr<trainer::Gpt> model = trainer::Gpt::Create(info->model, /*seed=*/0);
  if (!model.ok()) return Fail(absl::DataLossError(std::string(model.status().message())));
  if (absl::Status s = trainer::LoadCheckpointModel(dir, *model); !s.ok()) {
    return Fail(absl::DataLossError(std::string(s.message())));
  }

  int eot = static_cast<int>(info->eot);
  if (eot < 0 && (*tokenizer)->eot()) eot = static_cast<int>(*(*tokenizer)->eot());
  std::vector<int> prompt;
  for (trainer::TokenId id : (*tokenizer)->EncodeOrdinary(flags.prompt)) {
    prompt.push_back(static_cast<int>(id));
  }
  if (prompt.empty()) {  // an empty prompt starts a new document
    if (eot < 0) {
      return Fail(absl::InvalidArgumentError("empty --prompt and no end-of-text id to start from"));
    }
    prompt.push_back(eot);
  }
  for (int id : prompt) {
    if (id >= info->model.vocab_size) {
      return Fail(absl::InvalidArgumentError(
          "tokenizer " + spec + " produced id " + std::to_string(id) + " outside the model's " +
          std::to_string(info->model.vocab_size) + "-token vocabulary"));
    }
  }
  if (static_cast<int>(prompt.size()) > info->model.max_seq_len) {
    // Keep the end of a long prompt: the model sees at most max_seq_len tokens.
    prompt.erase(prompt.begin(), prompt.end() - info->model.max_seq_len);
  }

  absl::StatusOr<trainer::Generation> out = trainer::Generate(*model, prompt, eot, flags.options);
  if (!out.ok()) return Fail(out.status());
  std::vector<trainer::TokenId> ids(out->tokens.begin(), out->tokens.end());
  std::string text = (*tokenizer)->Decode(ids);
  // Byte-level tokens can end (or hold) a partial UTF-8 sequence: print valid UTF-8, with U+FFFD
  // for the broken bytes, as tiktoken's decode does.
  if (std::string valid; pipeline::ReplaceInvalidUtf8(text, &valid)) text = std::move(valid);
  std::fwrite(flags.prompt.data(), 1, flags.prompt.size(), stdout);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void AddSampleCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<SampleFlags>();
  CLI::App* sub = app.add_subcommand("sample", "generate text from a trained checkpoint (CPU)");
  sub->add_option("--checkpoint", flags->checkpoint,
                  "checkpoint step folder, or a training output folder (its newest checkpoint)")
      ->required();
  sub->add_option("--prompt", flags->prompt, "text to continue (empty: start a new document)")
      ->required();
  sub->add_option("--temperature", flags->options.temperature, "0: greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--top-k", flags->options.top_k, "keep the K most likely tokens; 0: off")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--top-p", flags->options.top_p, "nucleus sampling; 1: off")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option("--beam", flags->options.beam, "beam search width; 1: off")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--max-tokens", flags->options.max_tokens, "the most tokens to generate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--seed", flags->options.seed, "sampling seed (std::mt19937_64)")
      ->capture_default_str();
  sub->add_option("--tokenizer", flags->tokenizer, "tokenizer SPEC (default: the checkpoint's)");
  sub->callback([flags, run] { *run = [flags] { return SampleMain(*flags); }; });
}

}  // namespace winnow::services
