#include "trainer/model/gpt_config.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace winnow::trainer {

absl::Status GptConfig::Validate() const {
  auto bad = [](std::string_view field, int value, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("GptConfig.", std::string(field), " = ", value, ": ", std::string(why)));
  };
  if (vocab_size < 1) return bad("vocab_size", vocab_size, "must be ≥ 1");
  if (padded_vocab_size < vocab_size) {
    return bad("padded_vocab_size", padded_vocab_size,
               absl::StrCat("must be ≥ vocab_size (", vocab_size, ")"));
  }
  if (max_seq_len < 1) return bad("max_seq_len", max_seq_len, "must be ≥ 1");
  if (num_layers < 1) return bad("num_layers", num_layers, "must be ≥ 1");
  if (num_heads < 1) return bad("num_heads", num_heads, "must be ≥ 1");
  if (channels < 1) return bad("channels", channels, "must be ≥ 1");
  if (channels % num_heads != 0) {
    return bad("channels", channels,
               absl::StrCat("must be a multiple of num_heads (", num_heads, ")"));
  }
  return absl::OkStatus();
}

int PaddedVocabSize(int vocab_size) { return (vocab_size + 127) / 128 * 128; }

absl::StatusOr<GptConfig> GptPreset(std::string_view name, int vocab_size) {
  if (vocab_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size = ", vocab_size, ": must be ≥ 1"));
  }
  struct Preset {
    std::string_view name;
    int num_layers, num_heads, channels, max_seq_len;
  };
  static constexpr Preset kPresets[] = {
      {"tiny", 2, 2, 64, 64},
      {"gpt2-124m", 12, 12, 768, 1024},
      {"gpt2-350m", 24, 16, 1024, 1024},
      {"gpt2-774m", 36, 20, 1280, 1024},
      {"gpt2-1558m", 48, 25, 1600, 1024},
  };
  for (const Preset& p : kPresets) {
    if (p.name != name) continue;
    GptConfig config;
    config.vocab_size = vocab_size;
    config.padded_vocab_size = PaddedVocabSize(vocab_size);
    config.max_seq_len = p.max_seq_len;
    config.num_layers = p.num_layers;
    config.num_heads = p.num_heads;
    config.channels = p.channels;
    return config;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown model preset \"", std::string(name),
                   "\" (tiny, gpt2-124m, gpt2-350m, gpt2-774m, gpt2-1558m)"));
}

}  // namespace winnow::trainer
