// `winnow tokenizer train --vocab-size N [--special TOKEN …] (--data-dir DIR | --text FILE …)
// --out DIR`: byte-level BPE trained on a data dir's curated documents or on text files, written
// as a folder every tool here (and Hugging Face `tokenizers`) loads (tokenizer_files.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pipeline/store/shard_store.h"
#include "services/commands.h"
#include "trainer/tokenizer/bpe_trainer.h"
#include "trainer/tokenizer/tokenizer_files.h"

namespace winnow::services {
namespace {

struct TrainFlags {
  size_t vocab_size = 0;
  std::vector<std::string> specials = {"<|endoftext|>"};
  std::string data_dir;
  std::vector<std::string> texts;
  std::string out;
  std::string pattern = "cl100k";
  uint64_t min_frequency = 2;
  size_t max_chunks = 16'000'000;
};

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "winnow tokenizer train: %s\n", message.c_str());
  return code;
}

int TrainMain(const TrainFlags& flags) {
  if (flags.data_dir.empty() == flags.texts.empty()) {
    return Fail("give either --data-dir DIR or --text FILE …", kExitUsage);
  }
  trainer::BpeTrainerOptions options;
  options.vocab_size = flags.vocab_size;
  options.specials = flags.specials;
  options.min_frequency = flags.min_frequency;
  options.max_distinct_chunks = flags.max_chunks;
  if (!trainer::ParsePretokenPattern(flags.pattern, &options.pattern)) {
    return Fail("--pattern must be r50k, cl100k or o200k, not " + flags.pattern, kExitUsage);
  }
  options.progress = [](const trainer::BpeProgress& p) {
    std::fprintf(stderr, "\rtrain: %zu/%zu merges, last pair seen %llu times, %.1f s",
                 p.merges_done, p.merges_total, static_cast<unsigned long long>(p.last_count),
                 p.seconds);
  };
  trainer::BpeTrainer bpe(options);
  std::string trained_on;
  if (!flags.data_dir.empty()) {
    pipeline::StoreOptions store_options;
    store_options.read_only = true;
    store_options.create_if_missing = false;
    auto store = pipeline::ShardStore::Open(flags.data_dir, store_options);
    if (!store.ok()) return Fail(std::string(store.status().message()), kExitIoError);
    absl::Status status = (*store)->ForEachDocument([&](const pipeline::Document& doc) {
      bpe.AddText(doc.text);
      return true;
    });
    if (!status.ok()) return Fail(std::string(status.message()), kExitIoError);
    trained_on = "curated documents of " + flags.data_dir;
  } else {
    for (const std::string& path : flags.texts) {
      std::ifstream in(path, std::ios::binary);
      if (!in) return Fail("cannot read " + path, kExitIoError);
      // Blocks of about 1 MB cut after a newline: chunks never cross a newline anyway.
      std::string block, line;
      while (std::getline(in, line)) {
        block += line;
        if (!in.eof()) block += '\n';
        if (block.size() >= (1u << 20)) {
          bpe.AddText(block);
          block.clear();
        }
      }
      if (!block.empty()) bpe.AddText(block);
    }
    trained_on = "text files " + absl::StrJoin(flags.texts, ", ");
  }
  const trainer::BpeCorpusStats& seen = bpe.stats();
  std::fprintf(stderr, "train: %llu texts, %.1f MB, %llu distinct chunks\n",
               static_cast<unsigned long long>(seen.texts), static_cast<double>(seen.bytes) / 1e6,
               static_cast<unsigned long long>(seen.distinct_chunks));
  if (seen.bytes == 0) return Fail("no text to train on", kExitUsage);
  absl::StatusOr<trainer::BpeModel> model = bpe.Train();
  std::fprintf(stderr, "\n");
  if (!model.ok()) {
    return Fail(std::string(model.status().message()),
                absl::IsInvalidArgument(model.status()) ? kExitUsage : kExitIoError);
  }
  absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> tokenizer = model->ToTokenizer(flags.out);
  if (!tokenizer.ok()) return Fail(std::string(tokenizer.status().message()), kExitIoError);
  trainer::SaveTokenizerOptions save;
  save.trained_on = trained_on;
  if (absl::Status s = trainer::SaveTokenizer(**tokenizer, flags.out, save); !s.ok()) {
    return Fail(std::string(s.message()), kExitIoError);
  }
  std::printf(
      "trained %zu ranks + %zu special token(s)%s on %.1f MB; saved %s (tokenizer.json, "
      "tokenizer.tiktoken, winnow_tokenizer.json)\n",
      (*tokenizer)->num_ranks(), (*tokenizer)->specials().size(),
      model->stopped_early ? " (the corpus ran out of pairs first)" : "",
      static_cast<double>(seen.bytes) / 1e6, flags.out.c_str());
  return kExitOk;
}

}  // namespace

void AddTokenizerTrainCommand(CLI::App* tokenizer, CommandFn* run) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* sub = tokenizer->add_subcommand("train", "train a byte-level BPE vocabulary");
  sub->add_option("--vocab-size", flags->vocab_size,
                  "every id: 256 bytes + merges + special tokens")
      ->required()
      ->check(CLI::Range(static_cast<size_t>(257), static_cast<size_t>(1) << 31));
  sub->add_option("--special", flags->specials,
                  "special tokens, given the last ids (default: <|endoftext|>)");
  sub->add_option("--data-dir", flags->data_dir, "train on a data dir's curated documents");
  sub->add_option("--text", flags->texts, "train on text files");
  sub->add_option("--out", flags->out, "the folder to write")->required();
  sub->add_option("--pattern", flags->pattern, "pre-tokenization: r50k, cl100k (GPT-4), o200k")
      ->capture_default_str();
  sub->add_option("--min-frequency", flags->min_frequency,
                  "stop when the best pair is rarer than this")
      ->capture_default_str();
  sub->add_option("--max-chunks", flags->max_chunks,
                  "bound on distinct pre-tokenized chunks held (memory ~60 B each)")
      ->capture_default_str();
  sub->callback([flags, run] { *run = [flags] { return TrainMain(*flags); }; });
}

}  // namespace winnow::services
