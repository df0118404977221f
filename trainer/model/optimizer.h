// trainer/model/optimizer.h — AdamW (Loshchilov & Hutter, decoupled weight decay) with fp32
// moments, and clipping by the global gradient norm; the same update as torch.optim.AdamW and
// torch.nn.utils.clip_grad_norm_.
//
// Weight decay applies to the tensors GptTensorInfo::weight_decay marks: the token and position
// embeddings and the four weight matrices of each layer — every tensor with two dimensions per
// layer, as nanoGPT and llm.c choose. Biases and LayerNorm gains/biases are not decayed: pulling
// a gain towards 0 (or a bias towards 0) is not a useful prior, and they are few.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/model/gpt.h"

namespace winnow::trainer {

struct AdamWOptions {
  float beta1 = 0.9f;         // decay of the first moment
  float beta2 = 0.95f;        // decay of the second moment (GPT-3's choice; torch's default 0.999)
  float eps = 1e-8f;          // added to √v̂
  float weight_decay = 0.1f;  // decoupled: p −= lr · weight_decay · p, on decayed tensors only
};

// The optimizer's memory: one m and one v per parameter (zero until the first step) and the step
// count used for bias correction. Save it with a checkpoint to resume bit for bit.
struct AdamWState {
  std::vector<float> m;
  std::vector<float> v;
  int64_t step = 0;  // steps taken
};

// One AdamW step over all of the model's parameters from its grads():
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t);  v̂ = v/(1−β2^t)
//   p −= lr · (m̂ / (√v̂ + eps) + wd·p)     with wd = 0 on tensors that are not decayed.
void AdamWStep(Gpt& model, AdamWState& state, float learning_rate, const AdamWOptions& options);

// The same update on a plain range of parameters (for heads outside the Gpt buffer). `step` is the
// 1-based step number t; m and v have the size of params.
void AdamWUpdate(std::span<float> params, std::span<const float> grads, std::span<float> m,
                 std::span<float> v, int64_t step, float learning_rate, float weight_decay,
                 const AdamWOptions& options);

// √(Σ g²) over all gradients, summed in double in a fixed order (the same for any thread count).
float GradNorm(std::span<const float> grads);

// Scales the gradients by max_norm / (norm + 1e-6) when their norm exceeds max_norm; returns the
// norm before clipping.
float ClipGradNorm(std::span<float> grads, float max_norm);

}  // namespace winnow::trainer
