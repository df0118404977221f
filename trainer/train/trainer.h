// trainer/train/trainer.h — GPT pretraining (llm.c's train loop) on the CPU reference or, with
// `backend: cuda`, the bf16 GPU back-end (trainer/cuda/cuda_gpt.h):
//
//   for each step: grad_accum micro-batches of B×T (forward, backward; losses averaged, gradients
//   scaled by 1/grad_accum) → clip the global norm → AdamW at the scheduled learning rate
//   (linear warmup, then cosine decay to lr·min_lr_ratio) → one metrics line.
//
// OUT/metrics.jsonl gets one JSON line per step: {"step", "loss", "lr", "grad_norm",
// "tokens_per_s", "mfu"} plus "val_loss" and "val_bpb" on evaluated steps (every eval_every steps
// and the last). A fresh run first logs {"step": 0, "val_loss", "val_bpb"}: the untrained model.
//   val_loss  mean next-token cross-entropy (nats) over the first eval_batches·B windows of the
//             validation split, in order (the same windows every time)
//   val_bpb   bits per byte: Σ nats / ln 2 / the UTF-8 bytes those target tokens decode to
//             (special tokens such as end-of-text decode to 0 bytes); absent without a tokenizer
//   mfu       (6·N + 6·L·C·T) FLOPs per token × tokens_per_s / (peak_tflops·10¹²); N counts every
//             parameter (padded vocabulary rows too, as llm.c does). peak_tflops defaults to 0:
//             then the CPU back-end reports mfu 0 (a CPU has no meaningful dense peak to quote)
//             and the CUDA back-end uses the GPU's bf16 dense peak when it knows the device
// Checkpoints (checkpoint.h) every checkpoint_every steps and after the last step; `resume`
// continues from the newest bit for bit on the CPU (same losses, same weights as an uninterrupted
// run; the CUDA back-end resumes from the same fp32 state) and
// drops metrics lines after its step. A NaN or infinite loss or gradient norm stops the run with
// Aborted naming the step. A fresh run refuses an OUT that already holds checkpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/train/train_config.h"

namespace winnow::trainer {

struct TrainOptions {
  std::string out_dir;       // checkpoints/, metrics.jsonl and config.yaml go here
  bool resume = false;       // continue from the newest checkpoint (a fresh run if there is none)
  bool progress = true;      // a line per step on stderr
  int64_t stop_at_step = 0;  // stop after this step (checkpointed), as if interrupted; 0: steps
};

struct TrainResult {
  int64_t first_step = 0;                 // the first step this call ran
  int64_t last_step = 0;                  // the last step done (= first_step − 1 when none ran)
  std::vector<float> losses;              // training loss of each step this call ran
  std::optional<float> initial_val_loss;  // before step 1 (fresh runs with eval_every > 0)
  std::optional<float> final_val_loss;    // after the last step
  std::optional<float> final_val_bpb;
  std::string checkpoint;  // the newest checkpoint folder written
};

// Errors: InvalidArgument for a config that does not fit the data (named key),
// FailedPrecondition for an OUT or checkpoint that does not fit, Aborted for a diverged run,
// others for I/O.
absl::StatusOr<TrainResult> Train(const TrainConfig& config, const TrainOptions& options);

// The learning rate of 0-based step `step` of config.steps.
double LearningRate(const TrainConfig& config, int64_t step);

}  // namespace winnow::trainer
