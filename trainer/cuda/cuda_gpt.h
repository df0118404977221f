// trainer/cuda/cuda_gpt.h — the GPT-2 of trainer/model/gpt.h on one CUDA GPU, in bf16: the same
// model, layout and loss as the CPU reference, for training.
//
//   std::string why;
//   if (!CudaDeviceAvailable(&why)) …;                      // no driver, no device, too old a GPU
//   auto gpt = *CudaGpt::Create(config, cpu_model.params(), /*max_batch=*/8, /*max_seq=*/1024);
//   float loss = *gpt->Forward(tokens, targets, B, T);     // as Gpt::Forward
//   gpt->Backward(); …; float norm = *gpt->GradNorm();
//   gpt->AdamWStep(lr, adamw, /*grad_scale=*/clip_factor); gpt->ZeroGrad();
//   gpt->CopyParamsToHost(cpu_model.params());             // for checkpoints and export
//
// On the device: fp32 master weights, fp32 gradients and fp32 AdamW moments, all in GptLayout's
// order; a bf16 copy of the weights that the matmuls read (refreshed by every AdamW step); bf16
// activations for max_batch × max_seq positions, kept from Forward for Backward. Matmuls run on
// cuBLASLt (bf16 inputs, fp32 accumulation), everything else in the kernels of
// trainer/cuda/internal/kernels.h; attention is flash-style (no T×T matrix) for head sizes 32 and
// 64 (every GPT-2 preset). Results are deterministic (no atomics) but differ from the CPU
// reference by bf16 rounding: about 1e-2 relative on losses and gradients.
//
// This header includes no CUDA header and builds with any C++ compiler; the class exists only
// when the build found nvcc (CMake target winnow_cuda, compile definition WINNOW_HAVE_CUDA).
// Every CUDA or cuBLASLt failure becomes a Status naming the call; calls are not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model/gpt_config.h"
#include "trainer/model/optimizer.h"

namespace winnow::trainer {

// True when a CUDA driver and a device this build can run on (compute capability ≥ 9.0: the
// kernels are compiled for sm_90) are present; otherwise false and *why_not says what is missing.
bool CudaDeviceAvailable(std::string* why_not);

// The dense bf16 tensor-core peak of device 0 in TFLOPS when its name is one we know (H100 SXM
// and H200: 989.4; H100 NVL: 835.5; H100 PCIe: 756.5), else 0. For MFU.
double CudaPeakBf16Tflops();

// "NVIDIA H100 80GB HBM3" etc.; "" without a device.
std::string CudaDeviceName();

class CudaGpt {
 public:
  // Uploads `params` (GptNumParameters(config) floats in GptLayout order) and allocates everything
  // for batches of up to max_batch × max_seq (≤ config.max_seq_len). InvalidArgument for a bad
  // config or size, Unimplemented for a head size the attention kernels lack, ResourceExhausted
  // when the device memory does not suffice, Internal for other CUDA errors.
  static absl::StatusOr<std::unique_ptr<CudaGpt>> Create(const GptConfig& config,
                                                         std::span<const float> params,
                                                         int max_batch, int max_seq);
  ~CudaGpt();
  CudaGpt(const CudaGpt&) = delete;
  CudaGpt& operator=(const CudaGpt&) = delete;

  const GptConfig& config() const;
  size_t num_parameters() const;
  int max_batch() const;
  int max_seq() const;

  // Document masking as Gpt::SetDocumentMask: with eot_token ≥ 0, position t of a row attends
  // only to positions s with doc_start(t) ≤ s ≤ t, doc_start(t) being the last position ≤ t
  // holding eot_token (0 if none); −1: plain causal attention. Applies from the next Forward.
  void SetDocumentMask(int eot_token);

  // As Gpt::Forward (same checks, same loss: the mean over targets ≠ −1, 0 if none or without
  // targets), with B ≤ max_batch, T ≤ max_seq. Returns when the loss is on the host.
  absl::StatusOr<float> Forward(std::span<const int> tokens, std::span<const int> targets, int B,
                                int T);
  // (B, T, Vp) logits of the last Forward as fp32 (from bf16). FailedPrecondition after Backward,
  // which overwrites them with their gradient.
  absl::StatusOr<std::vector<float>> Logits() const;
  // Adds d(loss)/d(params) of the last Forward to the gradients. FailedPrecondition without a
  // Forward with targets since the last Backward.
  absl::Status Backward();
  absl::Status ZeroGrad();

  // √(Σ g²) over every gradient (fp64 sums in a fixed order).
  absl::StatusOr<float> GradNorm();
  // One AdamW step (optimizer.h's AdamWStep: per-tensor weight decay from GptLayout, bias
  // correction with the step count kept here) on the gradients times grad_scale (e.g.
  // 1/grad_accum times the clip factor); refreshes the bf16 weights.
  absl::Status AdamWStep(float learning_rate, const AdamWOptions& options, float grad_scale);

  // Host copies (spans of num_parameters() floats).
  absl::Status CopyParamsToHost(std::span<float> params) const;
  absl::Status CopyGradsToHost(std::span<float> grads) const;
  absl::Status SetParams(std::span<const float> params);
  // AdamW's moments and step, as AdamWStep on the CPU keeps them (m, v empty: zero).
  absl::Status GetOptimizerState(AdamWState* state) const;
  absl::Status SetOptimizerState(const AdamWState& state);

 private:
  struct Impl;
  explicit CudaGpt(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace winnow::trainer
