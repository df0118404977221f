// trainer/train/checkpoint.h — training checkpoints under OUT/checkpoints/step_NNNNNN/:
//   model.safetensors      the parameters, one F32 tensor per GptLayout entry under its name
//                          ("wte" (Vp, C), "wpe", "ln1w" (L, C), "qkvw" (L, 3C, C), …; the HF
//                          export maps and transposes them); metadata: model shape
//   optimizer.safetensors  AdamW's moments, "m.NAME" and "v.NAME" per tensor; metadata: "step"
//   state.json             {"format": "winnow-train-checkpoint", "version": 1, "step",
//                          "model": {vocab_size, padded_vocab_size, max_seq_len, num_layers,
//                          num_heads, channels}, "adam_step", "loader": {epoch, part, window},
//                          "batch_size", "seq_len", "seed", "tokenizer", "eot", "config" (YAML)}
// A checkpoint is written into a temporary folder and renamed into place, so a step_ folder is
// always complete; the oldest beyond `keep` are removed. The trainer's only randomness is the
// seeded initialisation and the data order, so the loader position is the whole RNG state.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"
#include "trainer/train/data_loader.h"

namespace winnow::trainer {

struct CheckpointInfo {
  int64_t step = 0;  // optimizer steps done
  GptConfig model;   // filled from the model when writing
  DataLoaderState loader;
  int batch_size = 0;
  int seq_len = 0;
  uint64_t seed = 0;
  std::string tokenizer;  // SPEC, "" when unknown
  int64_t eot = -1;       // end-of-text id, −1 when unknown
  std::string config_yaml;
};

// Writes OUT_DIR/checkpoints/step_NNNNNN (replacing one of the same step) and keeps the newest
// `keep`. Returns the folder.
absl::StatusOr<std::string> WriteCheckpoint(const std::string& out_dir, const Gpt& model,
                                            const AdamWState& optimizer, CheckpointInfo info,
                                            int keep);

// The newest OUT_DIR/checkpoints/step_* folder; NotFound when there is none.
absl::StatusOr<std::string> LatestCheckpoint(const std::string& out_dir);

// Reading back a checkpoint folder (errors name the file).
absl::StatusOr<CheckpointInfo> ReadCheckpointInfo(const std::string& dir);
// Loads the weights into `model`, whose shape must match (FailedPrecondition otherwise).
absl::Status LoadCheckpointModel(const std::string& dir, Gpt& model);
// Loads AdamW's moments and step for `model`'s layout.
absl::Status LoadCheckpointOptimizer(const std::string& dir, const Gpt& model,
                                     AdamWState& optimizer);

}  // namespace winnow::trainer
