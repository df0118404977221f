// The CUDA bf16 back-end against the fp32 CPU reference (trainer/model/gpt.h): loss, logits, every
// gradient tensor, document-masked attention, ten AdamW steps, determinism, and a GPT-2 124M step
// at T = 1024. Every test that needs a GPU skips without one; the last one, `backend: cuda`
// without a usable GPU, runs everywhere.
//
// Tolerances are bf16's: activations carry 8 bits of mantissa, so losses agree to ~1e-3 relative
// and logits and gradients to ~1e-2 in relative norm (‖gpu − cpu‖ / ‖cpu‖); each test prints what
// it measured.
#include "trainer/cuda/cuda_gpt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/util/temp_dir.h"
#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"
#include "trainer/train/train_config.h"
#include "trainer/train/trainer.h"

namespace winnow::trainer {
namespace {

#define SKIP_WITHOUT_GPU()            \
  do {                                \
    std::string why;                  \
    if (!CudaDeviceAvailable(&why)) { \
      GTEST_SKIP() << why;            \
    }                                 \
  } while (0)

constexpr double kLossTolerance = 1e-2;    // relative
constexpr double kTensorTolerance = 3e-2;  // relative norm of the difference

// L=2, NH=4 (head size 32), C=128, V=300 (Vp=384), maxT=64.
GptConfig SmallConfig() {
  GptConfig c;
  c.vocab_size = 300;
  c.padded_vocab_size = PaddedVocabSize(c.vocab_size);
  c.max_seq_len = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.channels = 128;
  return c;
}

// ‖got − want‖ / ‖want‖.
double RelativeError(std::span<const float> got, std::span<const float> want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); i++) {
    const double d = static_cast<double>(got[i]) - want[i];
    diff += d * d;
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

struct Batch {
  std::vector<int> tokens, targets;
};

// Random ids < V; targets < target_range (default V), every 7th ignored (−1). With eot ≥ 0, about
// one token in 12 is eot.
Batch RandomBatch(const GptConfig& c, int B, int T, uint32_t seed, int eot = -1,
                  int target_range = 0) {
  const uint32_t range = static_cast<uint32_t>(target_range > 0 ? target_range : c.vocab_size);
  std::mt19937 rng(seed);
  Batch batch;
  for (int i = 0; i < B * T; i++) {
    int token = static_cast<int>(rng() % static_cast<uint32_t>(c.vocab_size));
    if (eot >= 0 && rng() % 12 == 0) token = eot;
    batch.tokens.push_back(token);
    batch.targets.push_back(i % 7 == 3 ? -1 : static_cast<int>(rng() % range));
  }
  return batch;
}

// Runs one forward and backward pass on both back-ends and compares loss, logits and every
// gradient tensor.
void ExpectSameAsCpu(int eot) {
  const GptConfig config = SmallConfig();
  const int B = 4, T = 64;
  absl::StatusOr<Gpt> cpu = Gpt::Create(config, 1337);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<std::unique_ptr<CudaGpt>> gpu = CudaGpt::Create(config, cpu->params(), B, T);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  cpu->SetDocumentMask(eot);
  (*gpu)->SetDocumentMask(eot);
  const Batch batch = RandomBatch(config, B, T, 7, eot);

  absl::StatusOr<float> cpu_loss = cpu->Forward(batch.tokens, batch.targets, B, T);
  absl::StatusOr<float> gpu_loss = (*gpu)->Forward(batch.tokens, batch.targets, B, T);
  ASSERT_TRUE(cpu_loss.ok()) << cpu_loss.status();
  ASSERT_TRUE(gpu_loss.ok()) << gpu_loss.status();
  EXPECT_NEAR(*gpu_loss, *cpu_loss, kLossTolerance * *cpu_loss);
  std::printf("loss: cpu %.6f gpu %.6f\n", *cpu_loss, *gpu_loss);

  absl::StatusOr<std::vector<float>> logits = (*gpu)->Logits();
  ASSERT_TRUE(logits.ok()) << logits.status();
  ASSERT_EQ(logits->size(), cpu->logits().size());
  const double logits_error = RelativeError(*logits, cpu->logits());
  std::printf("logits: relative error %.3e\n", logits_error);
  EXPECT_LT(logits_error, kTensorTolerance);

  cpu->ZeroGrad();
  ASSERT_TRUE((*gpu)->ZeroGrad().ok());
  ASSERT_TRUE(cpu->Backward().ok());
  absl::Status backward = (*gpu)->Backward();
  ASSERT_TRUE(backward.ok()) << backward;
  std::vector<float> grads(cpu->num_parameters());
  ASSERT_TRUE((*gpu)->CopyGradsToHost(grads).ok());
  for (const GptTensorInfo& t : GptLayout(config)) {
    const std::span<const float> want =
        std::span<const float>(cpu->grads()).subspan(t.offset, t.size);
    const std::span<const float> got = std::span<const float>(grads).subspan(t.offset, t.size);
    const double error = RelativeError(got, want);
    std::printf("d%-9s relative error %.3e\n", std::string(t.name).c_str(), error);
    EXPECT_LT(error, kTensorTolerance) << "gradient of " << t.name;
  }
  absl::StatusOr<float> norm = (*gpu)->GradNorm();
  ASSERT_TRUE(norm.ok()) << norm.status();
  const float cpu_norm = GradNorm(cpu->grads());
  EXPECT_NEAR(*norm, cpu_norm, kTensorTolerance * cpu_norm);
}

TEST(CudaGpt, LossLogitsAndEveryGradientMatchTheCpuReference) {
  SKIP_WITHOUT_GPU();
  ExpectSameAsCpu(/*eot=*/-1);
}

TEST(CudaGpt, DocumentMaskedAttentionMatchesTheCpuReference) {
  SKIP_WITHOUT_GPU();
  ExpectSameAsCpu(/*eot=*/299);
}

TEST(CudaGpt, DocumentMaskChangesTheLossAndIsolatesDocuments) {
  SKIP_WITHOUT_GPU();
  const GptConfig config = SmallConfig();
  const int B = 2, T = 64, eot = 299;
  absl::StatusOr<Gpt> cpu = Gpt::Create(config, 5);
  ASSERT_TRUE(cpu.ok());
  auto gpu = CudaGpt::Create(config, cpu->params(), B, T);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  Batch batch = RandomBatch(config, B, T, 11);
  for (int b = 0; b < B; b++) batch.tokens[b * T + 30] = eot;  // a second document from t = 30
  (*gpu)->SetDocumentMask(eot);
  auto masked = (*gpu)->Forward(batch.tokens, batch.targets, B, T);
  ASSERT_TRUE(masked.ok()) << masked.status();
  auto masked_logits = (*gpu)->Logits();
  ASSERT_TRUE(masked_logits.ok());
  // Changing the first document must not change the second one's logits.
  Batch changed = batch;
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < 30; t++) changed.tokens[b * T + t] = (changed.tokens[b * T + t] + 1) % eot;
  }
  ASSERT_TRUE((*gpu)->Forward(changed.tokens, changed.targets, B, T).ok());
  auto changed_logits = (*gpu)->Logits();
  ASSERT_TRUE(changed_logits.ok());
  const size_t Vp = config.padded_vocab_size;
  for (int b = 0; b < B; b++) {
    for (int t = 31; t < T; t++) {  // t = 30 is the eot token itself, whose input is the same
      for (size_t v = 0; v < Vp; v++) {
        const size_t i = (static_cast<size_t>(b) * T + t) * Vp + v;
        ASSERT_EQ((*masked_logits)[i], (*changed_logits)[i]) << "b=" << b << " t=" << t;
      }
    }
  }
  (*gpu)->SetDocumentMask(-1);
  auto plain = (*gpu)->Forward(batch.tokens, batch.targets, B, T);
  ASSERT_TRUE(plain.ok());
  EXPECT_GT(std::abs(*plain - *masked), 1e-4);
}

TEST(CudaGpt, TenAdamWStepsTrackTheCpuLosses) {
  SKIP_WITHOUT_GPU();
  const GptConfig config = SmallConfig();
  const int B = 4, T = 64;
  absl::StatusOr<Gpt> cpu = Gpt::Create(config, 42);
  ASSERT_TRUE(cpu.ok());
  auto gpu = CudaGpt::Create(config, cpu->params(), B, T);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  AdamWState state;
  const AdamWOptions options;
  const float lr = 1e-3f, max_norm = 1.0f;
  const Batch batch = RandomBatch(config, B, T, 3);  // the same batch: the loss must fall
  std::vector<float> cpu_losses, gpu_losses;
  for (int step = 0; step < 10; step++) {
    cpu->ZeroGrad();
    auto cpu_loss = cpu->Forward(batch.tokens, batch.targets, B, T);
    ASSERT_TRUE(cpu_loss.ok());
    ASSERT_TRUE(cpu->Backward().ok());
    ClipGradNorm(cpu->grads(), max_norm);
    AdamWStep(*cpu, state, lr, options);
    cpu_losses.push_back(*cpu_loss);

    ASSERT_TRUE((*gpu)->ZeroGrad().ok());
    auto gpu_loss = (*gpu)->Forward(batch.tokens, batch.targets, B, T);
    ASSERT_TRUE(gpu_loss.ok()) << gpu_loss.status();
    ASSERT_TRUE((*gpu)->Backward().ok());
    auto norm = (*gpu)->GradNorm();
    ASSERT_TRUE(norm.ok());
    const float clip = max_norm / (*norm + 1e-6f);
    ASSERT_TRUE((*gpu)->AdamWStep(lr, options, clip < 1 ? clip : 1.0f).ok());
    gpu_losses.push_back(*gpu_loss);
    std::printf("step %d: cpu %.5f gpu %.5f\n", step + 1, *cpu_loss, *gpu_loss);
  }
  // bf16 rounding compounds over the steps: 1e-2 relative at the first, 4e-2 at the tenth.
  for (int step = 0; step < 10; step++) {
    EXPECT_NEAR(gpu_losses[step], cpu_losses[step],
                kLossTolerance * (1 + step / 3.0) * cpu_losses[step])
        << "step " << step + 1;
  }
  EXPECT_LT(gpu_losses.back(), gpu_losses.front() - 0.1);
  AdamWState gpu_state;
  ASSERT_TRUE((*gpu)->GetOptimizerState(&gpu_state).ok());
  EXPECT_EQ(gpu_state.step, state.step);
  ASSERT_EQ(gpu_state.m.size(), state.m.size());
  // The parameters moved as the CPU's did (updates of ~lr per step on weights of ~0.02).
  std::vector<float> params(cpu->num_parameters());
  ASSERT_TRUE((*gpu)->CopyParamsToHost(params).ok());
  EXPECT_LT(RelativeError(params, cpu->params()), 5e-2);
}

TEST(CudaGpt, IsDeterministicAndRoundTripsItsState) {
  SKIP_WITHOUT_GPU();
  const GptConfig config = SmallConfig();
  const int B = 2, T = 48;  // T not a multiple of the attention tiles
  absl::StatusOr<Gpt> cpu = Gpt::Create(config, 9);
  ASSERT_TRUE(cpu.ok());
  auto gpu = CudaGpt::Create(config, cpu->params(), 4, 64);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  std::vector<float> params(cpu->num_parameters());
  ASSERT_TRUE((*gpu)->CopyParamsToHost(params).ok());
  EXPECT_EQ(params, std::vector<float>(cpu->params().begin(), cpu->params().end()));

  const Batch batch = RandomBatch(config, B, T, 21, 299);
  (*gpu)->SetDocumentMask(299);
  std::vector<float> first(params.size()), second(params.size());
  for (std::vector<float>* grads : {&first, &second}) {
    ASSERT_TRUE((*gpu)->ZeroGrad().ok());
    ASSERT_TRUE((*gpu)->Forward(batch.tokens, batch.targets, B, T).ok());
    ASSERT_TRUE((*gpu)->Backward().ok());
    ASSERT_TRUE((*gpu)->CopyGradsToHost(*grads).ok());
  }
  EXPECT_EQ(first, second);
  // Backward consumed the logits; a second Backward needs a new Forward.
  EXPECT_EQ((*gpu)->Backward().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*gpu)->Logits().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*gpu)->Forward(batch.tokens, batch.targets, 8, T).status().code(),
            absl::StatusCode::kInvalidArgument);

  AdamWState state;
  state.step = 7;
  state.m.assign(params.size(), 0.25f);
  state.v.assign(params.size(), 0.5f);
  ASSERT_TRUE((*gpu)->SetOptimizerState(state).ok());
  AdamWState back;
  ASSERT_TRUE((*gpu)->GetOptimizerState(&back).ok());
  EXPECT_EQ(back.step, 7);
  EXPECT_EQ(back.m, state.m);
  EXPECT_EQ(back.v, state.v);
}

TEST(CudaGpt, Gpt2SmallStepsAtContext1024) {
  SKIP_WITHOUT_GPU();
  absl::StatusOr<GptConfig> config = GptPreset("gpt2-124m");
  ASSERT_TRUE(config.ok());
  absl::StatusOr<Gpt> cpu = Gpt::Create(*config, 1337);
  ASSERT_TRUE(cpu.ok());
  const int B = 4, T = 1024;
  auto gpu = CudaGpt::Create(*config, cpu->params(), B, T);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  // Targets among 256 ids: a pattern a few steps learn, so the loss must fall.
  const Batch batch = RandomBatch(*config, B, T, 5, 50256, 256);
  (*gpu)->SetDocumentMask(50256);
  float first = 0;
  for (int step = 0; step < 3; step++) {
    ASSERT_TRUE((*gpu)->ZeroGrad().ok());
    auto loss = (*gpu)->Forward(batch.tokens, batch.targets, B, T);
    ASSERT_TRUE(loss.ok()) << loss.status();
    ASSERT_TRUE(std::isfinite(*loss));
    if (step == 0) {
      first = *loss;
      EXPECT_NEAR(*loss, std::log(50257.0), 1.0);  // near-uniform at initialisation
    }
    absl::Status backward = (*gpu)->Backward();
    ASSERT_TRUE(backward.ok()) << backward;
    auto norm = (*gpu)->GradNorm();
    ASSERT_TRUE(norm.ok());
    ASSERT_TRUE(std::isfinite(*norm));
    const float clip = 1.0f / (*norm + 1e-6f);
    ASSERT_TRUE((*gpu)->AdamWStep(1e-3f, AdamWOptions(), clip < 1 ? clip : 1.0f).ok());
    std::printf("gpt2-124m step %d: loss %.4f norm %.4f\n", step + 1, *loss, *norm);
    if (step == 2) {
      EXPECT_LT(*loss, first);
    }
  }
}

TEST(CudaGpt, RejectsHeadSizesTheKernelsLack) {  // no GPU needed: checked before the device
  GptConfig config = SmallConfig();
  config.num_heads = 8;  // head size 16
  std::vector<float> params(GptNumParameters(config));
  EXPECT_EQ(CudaGpt::Create(config, params, 1, 8).status().code(),
            absl::StatusCode::kUnimplemented);
}

// A token-shard folder of a repeating pattern (vocabulary 300, end-of-text 299).
std::string WriteShards(const testing::TempDir& dir) {
  const std::string folder = dir.Sub("shards");
  std::filesystem::create_directories(folder);
  auto write = [&](const std::string& name, int n, uint32_t seed) {
    std::vector<uint16_t> tokens;
    std::mt19937 rng(seed);
    while (static_cast<int>(tokens.size()) < n) {
      tokens.push_back(299);
      const int start = static_cast<int>(rng() % 50);
      for (int i = 0; i < 40; i++) tokens.push_back(static_cast<uint16_t>((start + i * 3) % 299));
    }
    tokens.resize(n);
    int32_t header[256] = {20240520, 1, n};
    std::ofstream out(folder + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    out.write(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
  };
  write("t_val_000000.bin", 4000, 1);
  write("t_train_000001.bin", 20000, 2);
  std::ofstream(folder + "/manifest.json") << R"({"vocab_size": 300, "eot": 299})";
  return folder;
}

// Runs everywhere: without a usable GPU, `backend: cuda` stops at start-up naming the key; with
// one, it trains, tracks the CPU back-end, and resumes from its own checkpoint.
TEST(CudaTrain, BackendCudaTrainsOrStopsNamingTheKey) {
  testing::TempDir dir;
  const std::string shards = WriteShards(dir);
  auto yaml = [&](const std::string& backend) {
    return "model: {layers: 2, heads: 2, channels: 64, context: 32}\nshards: " + shards +
           "\nsteps: 6\nbatch_size: 4\nseq_len: 32\ngrad_accum: 2\nlr: 0.003\nwarmup_steps: 2\n"
           "eval_every: 3\neval_batches: 2\ndocument_mask: true\nbackend: " +
           backend + "\n";
  };
  absl::StatusOr<TrainConfig> config = ParseTrainConfig(yaml("cuda"));
  ASSERT_TRUE(config.ok()) << config.status();
  TrainOptions options;
  options.out_dir = dir.Sub("out_cuda");
  options.progress = false;
  std::string why;
  if (!CudaDeviceAvailable(&why)) {
    absl::StatusOr<TrainResult> result = Train(*config, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find("backend"), std::string::npos) << result.status();
    EXPECT_FALSE(std::filesystem::exists(options.out_dir + "/checkpoints"));
    return;
  }
  absl::StatusOr<TrainResult> gpu = Train(*config, options);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  absl::StatusOr<TrainConfig> cpu_config = ParseTrainConfig(yaml("cpu"));
  ASSERT_TRUE(cpu_config.ok());
  TrainOptions cpu_options = options;
  cpu_options.out_dir = dir.Sub("out_cpu");
  absl::StatusOr<TrainResult> cpu = Train(*cpu_config, cpu_options);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  ASSERT_EQ(gpu->losses.size(), cpu->losses.size());
  for (size_t i = 0; i < cpu->losses.size(); i++) {
    EXPECT_NEAR(gpu->losses[i], cpu->losses[i], 3 * kLossTolerance * cpu->losses[i]) << i;
  }
  // Interrupted after step 3 and resumed: the same losses as the uninterrupted GPU run.
  TrainOptions first = options;
  first.out_dir = dir.Sub("out_resume");
  first.stop_at_step = 3;
  ASSERT_TRUE(Train(*config, first).ok());
  TrainOptions rest = first;
  rest.stop_at_step = 0;
  rest.resume = true;
  absl::StatusOr<TrainResult> resumed = Train(*config, rest);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_EQ(resumed->losses.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_NEAR(resumed->losses[i], gpu->losses[3 + i], 1e-5 * gpu->losses[3 + i]) << i;
  }
  // metrics.jsonl carries tokens_per_s and a positive mfu when the GPU's peak is known.
  std::ifstream metrics(options.out_dir + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  const nlohmann::json j = nlohmann::json::parse(last);
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0);
  if (CudaPeakBf16Tflops() > 0) {
    EXPECT_GT(j["mfu"].get<double>(), 0);
  }
}

}  // namespace
}  // namespace winnow::trainer
