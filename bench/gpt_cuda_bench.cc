// bench/gpt_cuda_bench.cc — training throughput of the CUDA bf16 back-end (trainer/cuda): full
// steps (forward, backward, gradient norm, AdamW) of a GPT-2 preset on random tokens, `warmup`
// untimed steps then `steps` timed ones. Prints one JSON object:
//   {"backend", "device", "model", "B", "T", "steps", "ms_per_step", "tokens_per_s",
//    "flops_per_token", "peak_tflops", "mfu", "loss_first", "loss_last"}
// FLOPs per token are the trainer's (trainer.h): 6·N + 6·L·C·T, N every parameter (padded
// vocabulary rows too). Without a usable GPU it prints {"skipped": why} and exits 0.
//
//   build/bench/gpt_cuda_bench [--model gpt2-124m] [--batch 16] [--seq 1024] [--steps 20]
//                              [--warmup 3] [--document-mask] [--peak-tflops X]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/cuda/cuda_gpt.h"
#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "gpt_cuda_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace winnow::trainer;
  std::string model_name = "gpt2-124m";
  int B = 16, T = 1024, steps = 20, warmup = 3;
  bool document_mask = false;
  double peak_tflops = 0;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--model") {
      model_name = value();
    } else if (arg == "--batch") {
      B = std::atoi(value().c_str());
    } else if (arg == "--seq") {
      T = std::atoi(value().c_str());
    } else if (arg == "--steps") {
      steps = std::atoi(value().c_str());
    } else if (arg == "--warmup") {
      warmup = std::atoi(value().c_str());
    } else if (arg == "--document-mask") {
      document_mask = true;
    } else if (arg == "--peak-tflops") {
      peak_tflops = std::atof(value().c_str());
    } else {
      return Fail("unknown argument " + arg);
    }
  }
  if (B < 1 || T < 1 || steps < 1 || warmup < 0) return Fail("bad --batch/--seq/--steps/--warmup");
  std::string why;
  if (!CudaDeviceAvailable(&why)) {
    std::printf("%s\n",
                nlohmann::json{{"backend", "winnow-cuda"}, {"skipped", why}}.dump().c_str());
    return 0;
  }
  absl::StatusOr<GptConfig> config = GptPreset(model_name);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  if (T > config->max_seq_len) return Fail("--seq exceeds the model's context");
  absl::StatusOr<Gpt> host = Gpt::Create(*config, 1337);
  if (!host.ok()) return Fail(std::string(host.status().message()));
  absl::StatusOr<std::unique_ptr<CudaGpt>> gpu = CudaGpt::Create(*config, host->params(), B, T);
  if (!gpu.ok()) return Fail(std::string(gpu.status().message()));
  const int eot = config->vocab_size - 1;  // 50256 for GPT-2
  if (document_mask) (*gpu)->SetDocumentMask(eot);

  std::mt19937 rng(1);
  std::vector<int> tokens(static_cast<size_t>(B) * T), targets(tokens.size());
  auto next_batch = [&] {
    for (size_t i = 0; i < tokens.size(); i++) {
      tokens[i] = static_cast<int>(rng() % config->vocab_size);
      targets[i] = static_cast<int>(rng() % config->vocab_size);
    }
  };
  const AdamWOptions adamw;
  float loss_first = 0, loss_last = 0;
  double seconds = 0;
  for (int step = 0; step < warmup + steps; step++) {
    next_batch();  // outside the timed region: the trainer's loader is not measured here
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status s = (*gpu)->ZeroGrad();
    absl::StatusOr<float> loss = (*gpu)->Forward(tokens, targets, B, T);
    if (!loss.ok()) return Fail(std::string(loss.status().message()));
    if (s.ok()) s = (*gpu)->Backward();
    absl::StatusOr<float> norm = (*gpu)->GradNorm();
    if (!norm.ok()) return Fail(std::string(norm.status().message()));
    const float clip = 1.0f / (*norm + 1e-6f);
    if (s.ok()) s = (*gpu)->AdamWStep(6e-4f, adamw, clip < 1 ? clip : 1.0f);
    if (!s.ok()) return Fail(std::string(s.message()));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (step >= warmup) seconds += dt;
    if (step == 0) loss_first = *loss;
    loss_last = *loss;
  }
  if (peak_tflops == 0) peak_tflops = CudaPeakBf16Tflops();
  const double flops_per_token = 6.0 * static_cast<double>(host->num_parameters()) +
                                 6.0 * config->num_layers * config->channels * T;
  const double tokens_per_s = static_cast<double>(B) * T * steps / seconds;
  const double mfu = peak_tflops > 0 ? flops_per_token * tokens_per_s / (peak_tflops * 1e12) : 0;
  const nlohmann::ordered_json out = {{"backend", "winnow-cuda"},
                                      {"device", CudaDeviceName()},
                                      {"model", model_name},
                                      {"B", B},
                                      {"T", T},
                                      {"document_mask", document_mask},
                                      {"steps", steps},
                                      {"ms_per_step", seconds / steps * 1e3},
                                      {"tokens_per_s", tokens_per_s},
                                      {"flops_per_token", flops_per_token},
                                      {"peak_tflops", peak_tflops},
                                      {"mfu", mfu},
                                      {"loss_first", loss_first},
                                      {"loss_last", loss_last}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
