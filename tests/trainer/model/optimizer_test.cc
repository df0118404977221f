// AdamW against its formula, weight decay on the chosen tensors only, and global-norm clipping.
#include "trainer/model/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tbb/global_control.h"

namespace winnow::trainer {
namespace {

TEST(AdamW, FollowsTheFormulaWithBiasCorrection) {
  AdamWOptions options;  // β1 0.9, β2 0.95, eps 1e-8
  std::vector<float> p = {1.0f, -2.0f}, m(2), v(2);
  const float lr = 0.1f, wd = 0.1f;
  // Step 1: m̂ = g and v̂ = g², so the step is lr·(sign(g) + wd·p).
  std::vector<float> g = {0.5f, -0.25f};
  AdamWUpdate(p, g, m, v, 1, lr, wd, options);
  EXPECT_NEAR(p[0], 1.0 - 0.1 * (1.0 + 0.1 * 1.0), 1e-6);
  EXPECT_NEAR(p[1], -2.0 - 0.1 * (-1.0 + 0.1 * -2.0), 1e-6);
  // Step 2, by hand in double.
  const double p0 = p[0], m0 = m[0], v0 = v[0], g0 = -1.0;
  g = {-1.0f, 0.0f};
  AdamWUpdate(p, g, m, v, 2, lr, wd, options);
  const double m1 = 0.9 * m0 + 0.1 * g0, v1 = 0.95 * v0 + 0.05 * g0 * g0;
  const double m_hat = m1 / (1 - 0.9 * 0.9), v_hat = v1 / (1 - 0.95 * 0.95);
  EXPECT_NEAR(p[0], p0 - 0.1 * (m_hat / (std::sqrt(v_hat) + 1e-8) + 0.1 * p0), 1e-6);
  EXPECT_NEAR(m[0], m1, 1e-7);
  EXPECT_NEAR(v[0], v1, 1e-7);
}

TEST(AdamW, DecaysEmbeddingsAndWeightMatricesOnly) {
  absl::StatusOr<GptConfig> config = GptPreset("tiny", 100);
  ASSERT_TRUE(config.ok());
  absl::StatusOr<Gpt> model = Gpt::Create(*config, 3);
  ASSERT_TRUE(model.ok());
  for (float& p : model->params()) p = 1.0f;
  model->ZeroGrad();  // no gradient: only the decay moves anything
  AdamWState state;
  AdamWStep(*model, state, 0.5f, AdamWOptions{.weight_decay = 0.1f});
  EXPECT_EQ(state.step, 1);
  for (const GptTensorInfo& t : GptLayout(*config)) {
    const float expected = t.weight_decay ? 1.0f - 0.5f * 0.1f : 1.0f;
    for (size_t i = t.offset; i < t.offset + t.size; i++) {
      ASSERT_FLOAT_EQ(model->params()[i], expected) << t.name;
    }
  }
  int decayed = 0;
  for (const GptTensorInfo& t : GptLayout(*config)) decayed += t.weight_decay;
  EXPECT_EQ(decayed, 6);  // wte, wpe, qkvw, attprojw, fcw, fcprojw
}

TEST(ClipGradNorm, ScalesDownToTheMaximumOnly) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_FLOAT_EQ(ClipGradNorm(g, 10.0f), 5.0f);
  EXPECT_EQ(g[0], 3.0f);  // under the limit: untouched
  EXPECT_FLOAT_EQ(ClipGradNorm(g, 1.0f), 5.0f);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
  EXPECT_NEAR(GradNorm(g), 1.0f, 1e-6);
}

TEST(ClipGradNorm, NormIsTheSameBitsForAnyThreadCount) {
  std::vector<float> g(1000003);
  for (size_t i = 0; i < g.size(); i++) g[i] = std::sin(0.37 * i) * (1 + i % 7);
  auto norm_with = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    return GradNorm(g);
  };
  const float one = norm_with(1), four = norm_with(4);
  EXPECT_EQ(std::memcmp(&one, &four, sizeof(float)), 0) << one << " vs " << four;
}

}  // namespace
}  // namespace winnow::trainer
