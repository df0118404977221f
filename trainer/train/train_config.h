// trainer/train/train_config.h — what `winnow train --config FILE` reads: a YAML mapping with the
// keys below (every key optional unless noted; unknown keys and bad values are InvalidArgument
// naming the key). Paths are taken as given (relative ones from the working directory).
//
//   mode: pretrain              # sft | reward | rlhf | dpo: not in this build yet
//   model: tiny                 # a GptPreset name, or {layers, heads, channels, context}
//   data_dir: run/data          # a curated data dir (winnow run), tokenized on the fly …
//   shards: tokens/             # … or a folder of token shards (winnow export --format tokens)
//   tokenizer: gpt2             # data_dir: the encoding; shards: for val_bpb (default: manifest)
//   data_part_tokens: 67108864  # data_dir: parts of the token stream past the first wait on disk
//                               # in OUT/token-cache/, so memory holds about two parts at most
//   steps: 1000
//   batch_size: 8               # B sequences per micro-batch
//   seq_len: 64                 # T ≤ the model's context (default: the context)
//   grad_accum: 1               # micro-batches per step (their losses averaged)
//   lr: 6.0e-4                  # peak learning rate, after warmup_steps linear warmup
//   min_lr_ratio: 0.1           # cosine decay to lr·min_lr_ratio at the last step
//   eval_every: 100             # validation loss (and bits per byte) every N steps and at the end
//   backend: cpu                # cpu (the fp32 reference) | cuda (bf16 on one GPU; builds with
//                               # nvcc only — elsewhere, or with no usable GPU, `cuda` stops the
//                               # run at start-up naming `backend`)
//   document_mask: false        # true: attention stays within each document of a packed row (a
//                               # position sees back to the latest end-of-text token, inclusive);
//                               # the id is the tokenizer's <|endoftext|>; for shards the
//                               # manifest's "eot" (else the tokenizer's, else GPT-2's 50256)
//   peak_tflops: 0              # the device's peak for mfu; 0: cpu reports mfu 0, cuda uses the
//                               # GPU's bf16 dense peak when its name is known (H100 SXM 989.4)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "trainer/model/gpt_config.h"

namespace winnow::trainer {

struct TrainConfig {
  std::string mode = "pretrain";  // only "pretrain" in this build
  // The model: a preset name (GptPreset), or, when model_preset is empty, the explicit shape.
  std::string model_preset = "tiny";
  int layers = 0;      // model.layers
  int heads = 0;       // model.heads
  int channels = 0;    // model.channels
  int context = 0;     // model.context: the longest sequence (rows of the position table)
  int vocab_size = 0;  // 0: from the tokenizer (data_dir) or the shards' manifest.json

  // Exactly one of data_dir and shards.
  std::string data_dir;        // curated documents in key order, end-of-text before each
  std::string shards;          // *_train_*.bin train, *_val_*.bin validation (llm.c naming)
  std::string tokenizer;       // SPEC; data_dir default "gpt2"; shards default the manifest's
  double val_fraction = 0.05;  // data_dir: the last this fraction of the token stream validates
  // data_dir: the training stream is cut into parts of this many tokens; all but the last wait
  // on disk (OUT/token-cache/) and only the part being trained on is in memory.
  int64_t data_part_tokens = int64_t{1} << 26;
  bool shuffle = true;  // permute shard order and windows per epoch (data_loader.h)

  int64_t steps = 1000;          // optimizer steps in all
  int batch_size = 8;            // B
  int seq_len = 0;               // T; 0: the model's context
  int grad_accum = 1;            // micro-batches per step
  double lr = 6e-4;              // peak learning rate
  int64_t warmup_steps = 0;      // linear warmup from lr/warmup_steps to lr
  double min_lr_ratio = 0.1;     // cosine decay from lr to lr·min_lr_ratio
  double weight_decay = 0.1;     // AdamW, on the embeddings and weight matrices
  double beta1 = 0.9;            // AdamW first-moment decay
  double beta2 = 0.95;           // AdamW second-moment decay
  double grad_clip = 1.0;        // global gradient-norm clip; 0: none
  int64_t eval_every = 100;      // validation every N steps, before step 1 and at the end; 0: never
  int eval_batches = 10;         // validation batches of B×T (fewer if the split is short); 0: all
  int64_t checkpoint_every = 0;  // a checkpoint every N steps; 0: only at the end
  int keep_checkpoints = 3;      // the newest N checkpoints are kept
  uint64_t seed = 1337;          // model initialisation and data order
  int threads = 0;               // TBB threads; 0: all cores
  double peak_tflops = 0;        // the device's peak for MFU; 0: cpu 0, cuda the GPU's if known
  std::string backend = "cpu";   // "cpu" (fp32 reference) or "cuda" (bf16, one GPU)
  bool document_mask = false;    // attention within documents (end-of-text starts one)
  std::string out;               // default output folder when --out is not given

  std::string source_yaml;  // the text parsed, saved with every checkpoint

  // The model's shape for a vocabulary of vocab_size ids (padded as GptPreset pads).
  absl::StatusOr<GptConfig> ModelConfig(int vocab_size) const;
};

// Parses and validates a config; errors are InvalidArgument and name the key.
absl::StatusOr<TrainConfig> ParseTrainConfig(std::string_view yaml);
// Reads FILE and parses it (NotFound when it cannot be read; parse errors name the file).
absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path);

}  // namespace winnow::trainer
