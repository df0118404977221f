// trainer/model/gpt_config.h — the shape of a GPT-2 model, and the published sizes by name.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace winnow::trainer {

struct GptConfig {
  int vocab_size = 50257;         // V: ids the tokenizer produces (GPT-2's r50k: 50257)
  int padded_vocab_size = 50304;  // Vp ≥ V: embedding rows; logits ≥ V are outside the softmax
  int max_seq_len = 1024;         // maxT: context length, rows of the position table
  int num_layers = 12;            // L: transformer blocks
  int num_heads = 12;             // NH: attention heads; must divide channels
  int channels = 768;             // C: width of the residual stream

  // InvalidArgument naming the first bad field.
  absl::Status Validate() const;
};

// vocab_size rounded up to a multiple of 128 (whole SIMD/tensor-core tiles for the LM head).
int PaddedVocabSize(int vocab_size);

// A preset by name, with padded_vocab_size = PaddedVocabSize(vocab_size):
//   "tiny"        L=2  NH=2  C=64   maxT=64    (trains in seconds on a CPU; for tests and demos)
//   "gpt2-124m"   L=12 NH=12 C=768  maxT=1024
//   "gpt2-350m"   L=24 NH=16 C=1024 maxT=1024
//   "gpt2-774m"   L=36 NH=20 C=1280 maxT=1024
//   "gpt2-1558m"  L=48 NH=25 C=1600 maxT=1024
// InvalidArgument for an unknown name or a vocab_size < 1.
absl::StatusOr<GptConfig> GptPreset(std::string_view name, int vocab_size = 50257);

}  // namespace winnow::trainer
