// trainer/model/gpt.h — GPT-2 (learned positions, pre-LayerNorm blocks, GELU, tied embeddings),
// the fp32 CPU reference: forward, backward and GPT-2's initialisation, in the manner of llm.c's
// train_gpt2.c. The layers themselves are in gpt_ops.h; AdamW and clipping in optimizer.h.
//
//   Gpt model = *Gpt::Create(*GptPreset("tiny", 50257), /*seed=*/1337);
//   float loss = *model.Forward(tokens, targets, B, T);   // tokens, targets: B·T ids, row-major
//   model.ZeroGrad();
//   absl::Status s = model.Backward();                    // model.grads(): d(loss)/d(params)
//
// All parameters live in one contiguous fp32 buffer, the gradients in a second one with the same
// layout (GptLayout). Weight matrices are stored (out, in) as in torch.nn.Linear and llm.c; HF's
// GPT-2 (Conv1D) stores c_attn, c_proj and c_fc transposed, (in, out). The LM head is wte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model/gpt_config.h"

namespace winnow::trainer {

// Named views into a parameter (or gradient) buffer. Per-layer tensors are stacked: layer l of
// qkvw starts at qkvw + l·3C·C.
struct GptTensors {
  float* wte;       // (Vp, C)   token embeddings, and the LM head; rows ≥ V stay zero
  float* wpe;       // (maxT, C) position embeddings
  float* ln1w;      // (L, C)    LayerNorm before attention
  float* ln1b;      // (L, C)
  float* qkvw;      // (L, 3C, C) attention input projection, [q | k | v]
  float* qkvb;      // (L, 3C)
  float* attprojw;  // (L, C, C) attention output projection
  float* attprojb;  // (L, C)
  float* ln2w;      // (L, C)    LayerNorm before the MLP
  float* ln2b;      // (L, C)
  float* fcw;       // (L, 4C, C) MLP up-projection
  float* fcb;       // (L, 4C)
  float* fcprojw;   // (L, C, 4C) MLP down-projection
  float* fcprojb;   // (L, C)
  float* lnfw;      // (C)       final LayerNorm
  float* lnfb;      // (C)
};

// One tensor of the buffer, in GptTensors' order.
struct GptTensorInfo {
  std::string_view name;      // the GptTensors field name, e.g. "qkvw"
  std::vector<int> shape;     // e.g. {L, 3C, C}
  size_t offset = 0;          // in floats from the start of the buffer
  size_t size = 0;            // in floats
  bool weight_decay = false;  // AdamW decays it: the embeddings and the four weight matrices
};
std::vector<GptTensorInfo> GptLayout(const GptConfig& config);
size_t GptNumParameters(const GptConfig& config);
GptTensors GptTensorViews(const GptConfig& config, float* buffer);

// The batch check of every back-end's Forward: InvalidArgument unless `tokens` holds N ids in
// [0, V) and `targets` is empty or holds N ids in [0, V) or −1, naming the first bad one.
absl::Status CheckTokens(std::span<const int> tokens, std::span<const int> targets, int N, int V);

class Gpt {
 public:
  // Allocates the model and initialises it as GPT-2 does, from a seeded generator (the same seed
  // gives the same bits everywhere): weights and embeddings N(0, 0.02²), the two residual
  // projections (attprojw, fcprojw) N(0, (0.02/√(2L))²), biases 0, LayerNorm gains 1, padded
  // vocabulary rows 0. InvalidArgument for a bad config.
  static absl::StatusOr<Gpt> Create(const GptConfig& config, uint64_t seed);

  Gpt(Gpt&&) noexcept;
  Gpt& operator=(Gpt&&) noexcept;
  ~Gpt();

  const GptConfig& config() const { return config_; }
  size_t num_parameters() const { return params_.size(); }
  std::span<float> params() { return params_; }
  std::span<const float> params() const { return params_; }
  std::span<float> grads() { return grads_; }
  std::span<const float> grads() const { return grads_; }
  GptTensors param_tensors() { return GptTensorViews(config_, params_.data()); }
  GptTensors grad_tensors() { return GptTensorViews(config_, grads_.data()); }

  // Runs the model on B sequences of T ≤ maxT tokens (tokens: B·T ids < V, row-major) and keeps the
  // activations for Backward. With targets (B·T ids < V, or −1 to ignore a position) returns the
  // mean cross-entropy over the positions not ignored (0 if there are none); with empty targets
  // returns 0. InvalidArgument for bad shapes or ids.
  absl::StatusOr<float> Forward(std::span<const int> tokens, std::span<const int> targets, int B,
                                int T);
  // Document masking for rows that pack several documents: with eot_token ≥ 0, Forward lets
  // position t attend only to the positions s ≤ t of its own document, which begins at the last
  // s ≤ t holding eot_token (at 0 if there is none), so an end-of-text token begins the document
  // after it. Backward follows the Forward it differentiates. −1 (the default; any negative id)
  // is plain causal attention, bit for bit. KV-cache inference (inference.h) honours it too.
  void SetDocumentMask(int eot_token) { document_mask_eot_ = eot_token < 0 ? -1 : eot_token; }
  int document_mask_eot() const { return document_mask_eot_; }

  // (B, T, Vp) logits of the last Forward; only the first V of each row are the distribution.
  std::span<const float> logits() const;
  // Adds d(loss)/d(params) of the last Forward to grads(). FailedPrecondition if that Forward had
  // no targets.
  absl::Status Backward();
  void ZeroGrad();

 private:
  struct Buffers;  // activations and backward scratch, sized for the last (B, T)
  explicit Gpt(const GptConfig& config);

  GptConfig config_;
  std::vector<float> params_;
  std::vector<float> grads_;
  int document_mask_eot_ = -1;  // SetDocumentMask; −1: plain causal
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace winnow::trainer
