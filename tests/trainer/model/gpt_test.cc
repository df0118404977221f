// The GPT-2 CPU reference: every gradient against finite differences, the loss at initialisation,
// overfitting one batch with AdamW, bit-identical results for any thread count, and the edges
// (ignored targets, padded vocabulary, causal and document masks, bad input).
#include "trainer/model/gpt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tbb/global_control.h"
#include "trainer/model/optimizer.h"

namespace winnow::trainer {
namespace {

// Random ids in [0, vocab) from a fixed seed.
std::vector<int> RandomIds(int n, int vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> id(0, vocab - 1);
  std::vector<int> ids(n);
  for (int& x : ids) x = id(gen);
  return ids;
}

Gpt MakeModel(const GptConfig& config, uint64_t seed = 1337) {
  absl::StatusOr<Gpt> model = Gpt::Create(config, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

GptConfig Preset(const std::string& name, int vocab) {
  absl::StatusOr<GptConfig> config = GptPreset(name, vocab);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(GptConfig, PresetsHavePublishedSizes) {
  GptConfig gpt2 = Preset("gpt2-124m", 50257);
  EXPECT_EQ(gpt2.padded_vocab_size, 50304);
  EXPECT_EQ(gpt2.num_layers, 12);
  EXPECT_EQ(gpt2.channels, 768);
  EXPECT_EQ(GptNumParameters(gpt2), 124475904u);  // llm.c's count for the padded vocabulary
  GptConfig medium = Preset("gpt2-350m", 50257);
  EXPECT_EQ(medium.num_layers, 24);
  EXPECT_EQ(medium.num_heads, 16);
  EXPECT_EQ(medium.channels, 1024);
  GptConfig tiny = Preset("tiny", 1000);
  EXPECT_EQ(tiny.padded_vocab_size, 1024);
  EXPECT_EQ(tiny.max_seq_len, 64);
  EXPECT_TRUE(tiny.Validate().ok());
  EXPECT_FALSE(GptPreset("gpt5", 50257).ok());
  EXPECT_FALSE(GptPreset("tiny", 0).ok());
}

TEST(GptConfig, ValidateNamesTheBadField) {
  GptConfig config = Preset("tiny", 100);
  config.num_heads = 3;  // 64 channels do not split into 3 heads
  absl::Status s = config.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("channels"), std::string::npos) << s;
  config = Preset("tiny", 100);
  config.padded_vocab_size = 99;
  EXPECT_NE(config.Validate().message().find("padded_vocab_size"), std::string::npos);
  EXPECT_FALSE(Gpt::Create(config, 1).ok());
}

// A model small enough to differentiate numerically in every parameter.
GptConfig GradCheckConfig() {
  GptConfig c;
  c.vocab_size = 37;
  c.padded_vocab_size = 40;  // three padded rows, which must get no gradient
  c.max_seq_len = 5;
  c.num_layers = 2;
  c.num_heads = 2;
  c.channels = 8;
  return c;
}

// GradCheckConfig's model with every parameter moved away from GPT-2's initialisation, which makes
// the attention nearly uniform and most gradients tiny: so each path through the model carries a
// gradient worth checking.
Gpt GradCheckModel() {
  const GptConfig config = GradCheckConfig();
  Gpt model = MakeModel(config);
  std::mt19937 gen(7);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (float& p : model.params()) p += noise(gen);
  for (size_t i = static_cast<size_t>(config.vocab_size) * config.channels;
       i < static_cast<size_t>(config.padded_vocab_size) * config.channels; i++) {
    model.params()[i] = 0;  // padded rows stay zero
  }
  return model;
}

// Backward's gradient of every parameter against finite differences of Forward's loss.
void ExpectGradientsMatchFiniteDifferences(Gpt& model, const std::vector<int>& tokens,
                                           const std::vector<int>& targets, int B, int T) {
  const GptConfig& config = model.config();
  model.ZeroGrad();
  ASSERT_TRUE(model.Forward(tokens, targets, B, T).ok());
  ASSERT_TRUE(model.Backward().ok());
  const std::vector<float> analytic(model.grads().begin(), model.grads().end());

  // Fourth-order central differences: f'(x) ≈ (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h.
  // The loss is fp32, so each difference carries ~1e-6/h of rounding noise: h is as large as the
  // fourth-order truncation allows (errors here shrink as 1/h, the mark of rounding, not of a bug).
  const float h = 2e-2f;
  auto loss_at = [&](size_t i, float x) {
    const float saved = model.params()[i];
    model.params()[i] = x;
    const float loss = *model.Forward(tokens, targets, B, T);
    model.params()[i] = saved;
    return static_cast<double>(loss);
  };
  for (const GptTensorInfo& t : GptLayout(config)) {
    double diff2 = 0, norm2 = 0, worst_relative = 0, worst_absolute = 0;
    int bad = 0;
    for (size_t i = t.offset; i < t.offset + t.size; i++) {
      const float x = model.params()[i];
      const double numeric = (8 * (loss_at(i, x + h) - loss_at(i, x - h)) -
                              (loss_at(i, x + 2 * h) - loss_at(i, x - 2 * h))) /
                             (12.0 * h);
      const double a = analytic[i], error = std::abs(a - numeric);
      diff2 += error * error;
      norm2 += numeric * numeric;
      worst_relative = std::max(worst_relative, error / std::max(std::abs(numeric), 1e-3));
      worst_absolute = std::max(worst_absolute, error);
      // Every element: within 1% of its size, or within the rounding noise (~2e-5) with margin.
      if (error > 1e-2 * std::abs(numeric) + 1e-4) {
        if (++bad <= 3) {
          ADD_FAILURE() << t.name << "[" << i - t.offset << "]: analytic " << a << " numeric "
                        << numeric;
        }
      }
    }
    const double relative = std::sqrt(diff2 / std::max(norm2, 1e-30));
    std::printf("  %-9s |g| %.2e  relative error %.1e (norm), %.1e (worst element); abs %.1e\n",
                std::string(t.name).c_str(), std::sqrt(norm2), relative, worst_relative,
                worst_absolute);
    EXPECT_GT(norm2, 1e-6) << t.name << " got no gradient";
    EXPECT_LT(relative, 2e-3) << t.name;
    EXPECT_EQ(bad, 0) << t.name;
  }
  // The padded vocabulary rows are outside the softmax: exactly zero gradient.
  for (size_t i = static_cast<size_t>(config.vocab_size) * config.channels;
       i < static_cast<size_t>(config.padded_vocab_size) * config.channels; i++) {
    ASSERT_EQ(analytic[i], 0.0f) << i;
  }
}

TEST(Gpt, GradientsMatchFiniteDifferencesInEveryTensor) {
  const GptConfig config = GradCheckConfig();
  Gpt model = GradCheckModel();
  const int B = 2, T = 5;
  const std::vector<int> tokens = RandomIds(B * T, config.vocab_size, 1);
  std::vector<int> targets = RandomIds(B * T, config.vocab_size, 2);
  targets[3] = -1;  // ignored
  ExpectGradientsMatchFiniteDifferences(model, tokens, targets, B, T);
}

TEST(Gpt, GradientsMatchFiniteDifferencesWithDocumentMask) {
  const GptConfig config = GradCheckConfig();
  Gpt model = GradCheckModel();
  const int B = 2, T = 5, eot = config.vocab_size - 1;
  std::vector<int> tokens = RandomIds(B * T, eot, 1);   // ids < eot: the only eots are these
  tokens[2] = eot;                                      // row 0: documents [0, 2) and [2, 5)
  tokens[T + 0] = tokens[T + 3] = tokens[T + 4] = eot;  // row 1: [0, 3), [3, 4) and [4, 5)
  std::vector<int> targets = RandomIds(B * T, config.vocab_size, 2);
  targets[3] = -1;  // ignored
  // The mask changes the loss (most positions see less), and Backward differentiates that loss.
  const float causal = *model.Forward(tokens, targets, B, T);
  model.SetDocumentMask(eot);
  EXPECT_EQ(model.document_mask_eot(), eot);
  EXPECT_NE(*model.Forward(tokens, targets, B, T), causal);
  ExpectGradientsMatchFiniteDifferences(model, tokens, targets, B, T);
}

TEST(Gpt, LossAtInitialisationIsLogVocabulary) {
  const GptConfig config = Preset("tiny", 50257);
  Gpt model = MakeModel(config);
  const int B = 2, T = 64;
  absl::StatusOr<float> loss = model.Forward(RandomIds(B * T, config.vocab_size, 3),
                                             RandomIds(B * T, config.vocab_size, 4), B, T);
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_NEAR(*loss, std::log(50257.0), 0.05);  // 10.825: small logits, nearly uniform
}

TEST(Gpt, AdamWOverfitsOneBatch) {
  const GptConfig config = Preset("tiny", 256);
  Gpt model = MakeModel(config);
  const int B = 4, T = 32;
  const std::vector<int> tokens = RandomIds(B * T, config.vocab_size, 5);
  const std::vector<int> targets = RandomIds(B * T, config.vocab_size, 6);
  AdamWState state;
  std::vector<float> losses;
  for (int step = 0; step < 30; step++) {
    model.ZeroGrad();
    absl::StatusOr<float> loss = model.Forward(tokens, targets, B, T);
    ASSERT_TRUE(loss.ok()) << loss.status();
    losses.push_back(*loss);
    ASSERT_TRUE(model.Backward().ok());
    ClipGradNorm(model.grads(), 1.0f);
    AdamWStep(model, state, 3e-3f, AdamWOptions{});
  }
  std::printf("  loss %.3f → %.3f after %zu steps\n", losses.front(), losses.back(), losses.size());
  EXPECT_NEAR(losses.front(), std::log(256.0), 0.05);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

// N steps of training; the losses and the final parameters.
struct TrainingRun {
  std::vector<float> losses;
  std::vector<float> params;
};
// With `eot` ≥ 0 the rows pack documents: eot is set at a few positions and masked.
TrainingRun Train(int threads, int steps, int eot = -1) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  GptConfig config = Preset("tiny", 1000);
  config.num_heads = 4;
  Gpt model = MakeModel(config, 42);
  const int B = 3, T = 40;  // 120 rows: not a multiple of the matmul tile
  std::vector<int> tokens = RandomIds(B * T, config.vocab_size, 8);
  if (eot >= 0) {
    for (int n : {0, 13, 14, 52, 99}) tokens[n] = eot;
    model.SetDocumentMask(eot);
  }
  std::vector<int> targets = RandomIds(B * T, config.vocab_size, 9);
  targets[17] = -1;
  AdamWState state;
  TrainingRun run;
  for (int step = 0; step < steps; step++) {
    model.ZeroGrad();
    run.losses.push_back(*model.Forward(tokens, targets, B, T));
    EXPECT_TRUE(model.Backward().ok());
    ClipGradNorm(model.grads(), 1.0f);
    AdamWStep(model, state, 1e-3f, AdamWOptions{});
  }
  run.params.assign(model.params().begin(), model.params().end());
  return run;
}

TEST(Gpt, SameSeedGivesBitIdenticalTrainingWithAnyThreadCount) {
  const TrainingRun one = Train(1, 4);
  const TrainingRun masked = Train(1, 4, /*eot=*/999);
  for (int threads : {2, 4}) {
    const TrainingRun many = Train(threads, 4);
    const TrainingRun many_masked = Train(threads, 4, /*eot=*/999);
    EXPECT_EQ(masked.losses, many_masked.losses) << threads << " threads, document mask";
    EXPECT_EQ(std::memcmp(masked.params.data(), many_masked.params.data(),
                          masked.params.size() * sizeof(float)),
              0)
        << threads << " threads, document mask";
    ASSERT_EQ(one.losses.size(), many.losses.size());
    for (size_t i = 0; i < one.losses.size(); i++) {
      EXPECT_EQ(std::memcmp(&one.losses[i], &many.losses[i], sizeof(float)), 0)
          << "step " << i << " with " << threads << " threads: " << one.losses[i] << " vs "
          << many.losses[i];
    }
    EXPECT_EQ(std::memcmp(one.params.data(), many.params.data(), one.params.size() * sizeof(float)),
              0)
        << threads << " threads";
  }
  EXPECT_LT(one.losses.back(), one.losses.front());
}

TEST(Gpt, LossIsMeanCrossEntropyOverCountedTargetsWithinTheVocabulary) {
  GptConfig config = GradCheckConfig();
  Gpt model = MakeModel(config);
  for (float& p : model.params()) p *= 5;  // logits far from uniform
  const int B = 2, T = 5, V = config.vocab_size, Vp = config.padded_vocab_size;
  const std::vector<int> tokens = RandomIds(B * T, V, 10);
  std::vector<int> targets = RandomIds(B * T, V, 11);
  targets[0] = targets[6] = targets[9] = -1;
  const float loss = *model.Forward(tokens, targets, B, T);
  double sum = 0;
  int counted = 0;
  for (int n = 0; n < B * T; n++) {
    if (targets[n] < 0) continue;
    const float* row = model.logits().data() + static_cast<size_t>(n) * Vp;
    double z = 0;
    for (int v = 0; v < V; v++) z += std::exp(static_cast<double>(row[v]));
    sum += std::log(z) - row[targets[n]];
    counted++;
  }
  EXPECT_NEAR(loss, sum / counted, 1e-5 * std::abs(loss));

  std::fill(targets.begin(), targets.end(), -1);  // nothing to count: loss 0, no gradient
  EXPECT_EQ(*model.Forward(tokens, targets, B, T), 0.0f);
  model.ZeroGrad();
  EXPECT_TRUE(model.Backward().ok());
  for (float g : model.grads()) ASSERT_EQ(g, 0.0f);
}

TEST(Gpt, LaterTokensDoNotChangeEarlierLogits) {
  const GptConfig config = Preset("tiny", 300);
  Gpt model = MakeModel(config);
  const int T = 16, Vp = config.padded_vocab_size;
  std::vector<int> tokens = RandomIds(T, config.vocab_size, 12);
  ASSERT_TRUE(model.Forward(tokens, {}, 1, T).ok());
  const std::vector<float> before(model.logits().begin(), model.logits().end());
  tokens[10] = (tokens[10] + 1) % config.vocab_size;
  ASSERT_TRUE(model.Forward(tokens, {}, 1, T).ok());
  for (size_t i = 0; i < static_cast<size_t>(10) * Vp; i++) {
    ASSERT_EQ(model.logits()[i], before[i]) << "position " << i / Vp;
  }
  EXPECT_NE(model.logits()[10 * Vp], before[10 * Vp]);
}

// Two rows packing documents split by eot: position t's logits depend only on the tokens of its
// own document when the mask is on, and on every earlier token when it is off.
TEST(Gpt, DocumentMaskKeepsEarlierDocumentsOutOfLaterOnes) {
  const GptConfig config = Preset("tiny", 300);
  const int B = 2, T = 16, Vp = config.padded_vocab_size, eot = 299;
  std::vector<int> tokens = RandomIds(B * T, eot, 15);  // ids < eot
  tokens[6] = eot;                                      // row 0: documents [0, 6) and [6, 16)
  tokens[T + 3] = tokens[T + 9] = eot;                  // row 1: [0, 3), [3, 9) and [9, 16)
  // Rewrites the tokens before each row's last eot (row 0's first document, row 1's first two).
  std::vector<int> other = tokens;
  for (int n : {0, 1, 2, 3, 4, 5, T + 0, T + 1, T + 2, T + 4, T + 5, T + 8}) {
    other[n] = (tokens[n] + 1 + n) % eot;
  }
  const int last_start[B] = {6, 9};
  auto logits_of = [&](Gpt& model, const std::vector<int>& ids) {
    EXPECT_TRUE(model.Forward(ids, {}, B, T).ok());
    return std::vector<float>(model.logits().begin(), model.logits().end());
  };
  auto row_tail_equal = [&](const std::vector<float>& x, const std::vector<float>& y, int b) {
    const size_t from = (static_cast<size_t>(b) * T + last_start[b]) * Vp;
    const size_t to = static_cast<size_t>(b + 1) * T * Vp;
    return std::equal(x.begin() + from, x.begin() + to, y.begin() + from);
  };

  Gpt causal = MakeModel(config);
  Gpt masked = MakeModel(config);
  masked.SetDocumentMask(eot);
  const std::vector<float> masked_before = logits_of(masked, tokens);
  const std::vector<float> masked_after = logits_of(masked, other);
  const std::vector<float> causal_before = logits_of(causal, tokens);
  const std::vector<float> causal_after = logits_of(causal, other);
  for (int b = 0; b < B; b++) {
    EXPECT_TRUE(row_tail_equal(masked_before, masked_after, b)) << "row " << b;
    EXPECT_FALSE(row_tail_equal(causal_before, causal_after, b)) << "row " << b;
  }
  // Each row's first document starts at position 0 either way: the same attention, the same bits.
  for (int b = 0; b < B; b++) {
    const size_t from = static_cast<size_t>(b) * T * Vp;
    const size_t to = from + static_cast<size_t>(b == 0 ? 6 : 3) * Vp;
    EXPECT_TRUE(std::equal(masked_before.begin() + from, masked_before.begin() + to,
                           causal_before.begin() + from))
        << "row " << b;
  }
}

// With the mask off (never set, or set back to −1) the model computes exactly what it always did.
TEST(Gpt, DocumentMaskOffIsBitIdenticalToNeverSettingIt) {
  const GptConfig config = Preset("tiny", 300);
  const int B = 2, T = 24;
  std::vector<int> tokens = RandomIds(B * T, config.vocab_size, 16);
  tokens[5] = tokens[30] = 299;  // eots in the rows, which must not matter
  const std::vector<int> targets = RandomIds(B * T, config.vocab_size, 17);
  struct Result {
    float loss;
    std::vector<float> logits, grads;
  };
  auto run = [&](Gpt& model) {
    model.ZeroGrad();
    Result r;
    r.loss = *model.Forward(tokens, targets, B, T);
    EXPECT_TRUE(model.Backward().ok());
    r.logits.assign(model.logits().begin(), model.logits().end());
    r.grads.assign(model.grads().begin(), model.grads().end());
    return r;
  };
  Gpt never = MakeModel(config);
  EXPECT_EQ(never.document_mask_eot(), -1);
  const Result plain = run(never);
  Gpt toggled = MakeModel(config);
  toggled.SetDocumentMask(299);
  const Result on = run(toggled);
  toggled.SetDocumentMask(-1);
  EXPECT_EQ(toggled.document_mask_eot(), -1);
  const Result off = run(toggled);
  EXPECT_NE(on.loss, plain.loss);  // the mask did something while it was on
  EXPECT_EQ(std::memcmp(&off.loss, &plain.loss, sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(off.logits.data(), plain.logits.data(), plain.logits.size() * 4), 0);
  EXPECT_EQ(std::memcmp(off.grads.data(), plain.grads.data(), plain.grads.size() * 4), 0);
}

TEST(Gpt, SameSeedSameParametersOtherSeedOthers) {
  const GptConfig config = Preset("tiny", 100);
  Gpt a = MakeModel(config, 5), b = MakeModel(config, 5), c = MakeModel(config, 6);
  EXPECT_TRUE(std::equal(a.params().begin(), a.params().end(), b.params().begin()));
  EXPECT_FALSE(std::equal(a.params().begin(), a.params().end(), c.params().begin()));
  // GPT-2's scales: embeddings and matrices 0.02, residual projections 0.02/√(2L), gains 1.
  auto stddev = [&](const float* p, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += static_cast<double>(p[i]) * p[i];
    return std::sqrt(s / n);
  };
  const GptTensors t = a.param_tensors();
  const size_t C = config.channels, L = config.num_layers;
  EXPECT_NEAR(stddev(t.fcw, L * 4 * C * C), 0.02, 0.001);
  EXPECT_NEAR(stddev(t.fcprojw, L * 4 * C * C), 0.02 / std::sqrt(2.0 * L), 0.001);
  EXPECT_EQ(t.ln1w[0], 1.0f);
  EXPECT_EQ(t.qkvb[0], 0.0f);
  EXPECT_EQ(t.wte[config.vocab_size * C], 0.0f);  // first padded row
}

TEST(Gpt, RejectsBadBatches) {
  const GptConfig config = Preset("tiny", 100);
  Gpt model = MakeModel(config);
  std::vector<int> tokens(8, 1), targets(8, 2);
  EXPECT_EQ(model.Backward().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(model.Forward(tokens, targets, 2, 5).ok());  // 8 ≠ 2·5
  std::vector<int> long_tokens(65, 1);
  EXPECT_FALSE(model.Forward(long_tokens, {}, 1, 65).ok());  // T > maxT
  tokens[3] = 100;
  EXPECT_FALSE(model.Forward(tokens, targets, 2, 4).ok());  // token ≥ V
  tokens[3] = 1;
  targets[5] = -2;
  EXPECT_FALSE(model.Forward(tokens, targets, 2, 4).ok());
  targets[5] = -1;
  EXPECT_TRUE(model.Forward(tokens, targets, 2, 4).ok());
  EXPECT_TRUE(model.Forward(tokens, {}, 2, 4).ok());
  EXPECT_EQ(model.Backward().code(), absl::StatusCode::kFailedPrecondition);  // no targets
}

// Tokens per second of forward + backward on the tiny preset (GPT-2's vocabulary): run by hand with
// --gtest_also_run_disabled_tests --gtest_filter=*Throughput*.
TEST(Gpt, DISABLED_TinyThroughput) {
  const GptConfig config = Preset("tiny", 50257);
  Gpt model = MakeModel(config);
  const int B = 8, T = 64;
  const std::vector<int> tokens = RandomIds(B * T, config.vocab_size, 13);
  const std::vector<int> targets = RandomIds(B * T, config.vocab_size, 14);
  auto step = [&] {
    model.ZeroGrad();
    (void)model.Forward(tokens, targets, B, T);
    (void)model.Backward();
  };
  step();
  const auto start = std::chrono::steady_clock::now();
  const int steps = 5;
  for (int i = 0; i < steps; i++) step();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  tiny (V=50257) B=%d T=%d: %.0f tokens/s forward+backward\n", B, T,
              steps * B * T / seconds);
}

}  // namespace
}  // namespace winnow::trainer
