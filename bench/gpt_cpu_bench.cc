// bench/gpt_cpu_bench.cc — training throughput of the fp32 CPU reference (trainer/model): full
// steps (forward, backward, gradient-norm clipping at 1.0, AdamW) of a GPT-2 preset on random
// tokens, `warmup` untimed steps then `steps` timed ones, on `threads` TBB threads. Prints one JSON
// object with the fields of bench/gpt_torch_bench.py (--device cpu), its peer:
//   {"backend", "device", "model", "B", "T", "steps", "ms_per_step", "tokens_per_s",
//    "flops_per_token", "loss_first", "loss_last"}
//
//   build/bench/gpt_cpu_bench [--model tiny] [--batch 8] [--seq 64] [--steps 10] [--warmup 2]
//                             [--threads 2]
#include <tbb/global_control.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "gpt_cpu_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace winnow::trainer;
  std::string model_name = "tiny";
  int B = 8, T = 64, steps = 10, warmup = 2, threads = 2;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    auto value = [&]() -> int { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (arg == "--model" && i + 1 < argc) {
      model_name = argv[++i];
    } else if (arg == "--batch") {
      B = value();
    } else if (arg == "--seq") {
      T = value();
    } else if (arg == "--steps") {
      steps = value();
    } else if (arg == "--warmup") {
      warmup = value();
    } else if (arg == "--threads") {
      threads = value();
    } else {
      return Fail("unknown argument " + arg);
    }
  }
  if (B < 1 || T < 1 || steps < 1 || warmup < 0 || threads < 1) {
    return Fail("bad --batch/--seq/--steps/--warmup/--threads");
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));
  absl::StatusOr<GptConfig> config = GptPreset(model_name, 50257);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  if (T > config->max_seq_len) return Fail("--seq exceeds the model's context");
  absl::StatusOr<Gpt> created = Gpt::Create(*config, 1337);
  if (!created.ok()) return Fail(std::string(created.status().message()));
  Gpt model = std::move(*created);

  std::mt19937 random(1);
  std::uniform_int_distribution<int> id(0, config->vocab_size - 1);
  std::vector<int> tokens(static_cast<size_t>(B) * T), targets(tokens.size());
  AdamWState optimizer;
  std::vector<float> losses;
  double seconds = 0;
  for (int step = 0; step < warmup + steps; step++) {
    for (size_t i = 0; i < tokens.size(); i++) {
      tokens[i] = id(random);
      targets[i] = id(random);
    }
    const auto start = std::chrono::steady_clock::now();
    model.ZeroGrad();
    absl::StatusOr<float> loss = model.Forward(tokens, targets, B, T);
    if (!loss.ok()) return Fail(std::string(loss.status().message()));
    if (absl::Status s = model.Backward(); !s.ok()) return Fail(std::string(s.message()));
    ClipGradNorm(model.grads(), 1.0f);
    AdamWStep(model, optimizer, 6e-4f, AdamWOptions());
    if (step >= warmup) {
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    losses.push_back(*loss);
  }
  const GptConfig& c = *config;
  const double flops_per_token =
      6.0 * static_cast<double>(model.num_parameters()) + 6.0 * c.num_layers * c.channels * T;
  nlohmann::json out = {{"backend", "winnow-cpu"},
                        {"device", "cpu (" + std::to_string(threads) + " threads)"},
                        {"model", model_name},
                        {"B", B},
                        {"T", T},
                        {"steps", steps},
                        {"ms_per_step", seconds / steps * 1e3},
                        {"tokens_per_s", static_cast<double>(B) * T * steps / seconds},
                        {"flops_per_token", flops_per_token},
                        {"loss_first", losses.front()},
                        {"loss_last", losses.back()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
