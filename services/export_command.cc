// `winnow export --data-dir DIR --format jsonl --out DIR`: curated documents in datatrove's schema.
#include <cstdio>
#include <memory>
#include <string>

#include "pipeline/store/jsonl_export.h"
#include "pipeline/store/shard_store.h"
#include "services/commands.h"
#include "trainer/data/token_shards.h"

namespace winnow::services {
namespace {

struct ExportFlags {
  std::string data_dir;
  bool include_duplicates = false;
  std::string format = "jsonl";
  std::string out;
  std::string tokenizer;
  std::string compression = "gzip";
  trainer::TokenShardOptions tokens;
};

int ExportTokens(const ExportFlags& flags, pipeline::ShardStore& store) {
  if (flags.tokenizer.empty()) {
    std::fprintf(stderr, "winnow export: --format tokens needs --tokenizer SPEC\n");
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> tokenizer =
      trainer::Tokenizer::Load(flags.tokenizer);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "winnow export: %s\n", std::string(tokenizer.status().message()).c_str());
    return kExitUsage;
  }
  trainer::TokenShardOptions options = flags.tokens;
  options.progress = true;
  absl::StatusOr<trainer::TokenShardSummary> summary =
      trainer::ExportTokenShards(store, **tokenizer, flags.out, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "winnow export: %s\n", std::string(summary.status().message()).c_str());
    return absl::IsFailedPrecondition(summary.status()) ? kExitUsage : kExitIoError;
  }
  std::printf("exported %lld documents as %lld tokens (%s) into %lld shard(s) under %s\n",
              static_cast<long long>(summary->documents), static_cast<long long>(summary->tokens),
              (*tokenizer)->name().c_str(), static_cast<long long>(summary->shards),
              flags.out.c_str());
  return kExitOk;
}

int ExportMain(const ExportFlags& flags) {
  if (flags.format == "tokens" && flags.tokenizer.empty()) {
    std::fprintf(stderr, "winnow export: --format tokens needs --tokenizer SPEC\n");
    return kExitUsage;
  }
  pipeline::StoreOptions options;
  options.create_if_missing = false;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(flags.data_dir, options);
  if (!store.ok()) {
    std::fprintf(stderr, "winnow export: %s\n", std::string(store.status().message()).c_str());
    return kExitIoError;
  }
  if (flags.format == "tokens") return ExportTokens(flags, **store);
  pipeline::JsonlExportOptions export_options;
  export_options.include_duplicates = flags.include_duplicates;
  export_options.compression = flags.compression == "zstd" ? pipeline::ExportCompression::kZstd
                                                           : pipeline::ExportCompression::kGzip;
  auto summary = pipeline::ExportJsonl(**store, flags.out, export_options);
  if (!summary.ok()) {
    std::fprintf(stderr, "winnow export: %s\n", std::string(summary.status().message()).c_str());
    return kExitIoError;
  }
  std::printf("exported %llu documents into %llu file(s) under %s\n",
              static_cast<unsigned long long>(summary->documents),
              static_cast<unsigned long long>(summary->files), flags.out.c_str());
  return kExitOk;
}

}  // namespace

void AddExportCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand("export", "write the curated documents out");
  sub->add_option("--data-dir", flags->data_dir, "a data dir written by winnow run")->required();
  sub->add_option("--format", flags->format, "jsonl (datatrove schema) or tokens")
      ->check(CLI::IsMember({"jsonl", "tokens"}))
      ->capture_default_str();
  sub->add_option("--out", flags->out, "output folder")->required();
  sub->add_option("--tokenizer", flags->tokenizer, "tokenizer SPEC for --format tokens");
  sub->add_option("--compression", flags->compression, "gzip or zstd")
      ->check(CLI::IsMember({"gzip", "zstd"}))
      ->capture_default_str();
  sub->add_option("--name", flags->tokens.name, "tokens: shard file prefix")->capture_default_str();
  sub->add_option("--tokens-per-shard", flags->tokens.tokens_per_shard, "tokens: train shard size")
      ->capture_default_str();
  sub->add_option("--val-tokens", flags->tokens.val_tokens,
                  "tokens: size of shard 0, the validation shard (0: none)")
      ->capture_default_str();
  sub->add_option("--threads", flags->tokens.threads, "tokens: encoding threads (0: all cores)");
  sub->add_flag("--include-duplicates", flags->include_duplicates,
                "also documents dedup removed, with metadata.duplicate_of and duplicate_kind");
  sub->callback([flags, run] { *run = [flags] { return ExportMain(*flags); }; });
}

}  // namespace winnow::services
