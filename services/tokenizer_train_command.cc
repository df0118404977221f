// `winnow tokenizer train --vocab-size N [--special TOKEN …] (--data-dir DIR | --text FILE …)
// --out DIR`: byte-level BPE trained on curated documents or text files.
#include "services/commands.h"

namespace winnow::services {

void AddTokenizerTrainCommand(CLI::App* tokenizer, CommandFn* run) {
  CLI::App* sub =
      tokenizer->add_subcommand("train", "train a byte-level BPE (not in this build yet)");
  sub->allow_extras();
  sub->callback([run] {
    *run = [] {
      std::fprintf(stderr, "winnow tokenizer train: not in this build yet\n");
      return kExitUsage;
    };
  });
}

}  // namespace winnow::services
