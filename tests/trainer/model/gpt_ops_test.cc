// The blocked, register-tiled matmuls of the CPU reference against the plain loops they stand for:
// equal bit for bit for any shape (tails of rows, outputs and columns that are not multiples of
// the tiles) and any thread count.
#include "trainer/model/gpt_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tbb/global_control.h"

namespace winnow::trainer::cpu {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(random);
  return v;
}

// Σ a[i]·b[i] in eight interleaved partial sums, paired, then the tail (gpt_ops.cc's Dot).
float PlainDot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

struct Shape {
  int N, C, OC;
};

class MatmulTest : public ::testing::TestWithParam<Shape> {};

TEST_P(MatmulTest, MatchesThePlainLoopsBitForBitWithAnyThreadCount) {
  const auto [N, C, OC] = GetParam();
  const std::vector<float> inp = Random(size_t(N) * C, 1), weight = Random(size_t(OC) * C, 2),
                           bias = Random(OC, 3), dout = Random(size_t(N) * OC, 4),
                           dinp0 = Random(size_t(N) * C, 5), dweight0 = Random(size_t(OC) * C, 6),
                           dbias0 = Random(OC, 7);
  // The plain loops: out = bias + Dot; dinp += Σ_o in order; dweight, dbias += Σ_n in order.
  std::vector<float> out(size_t(N) * OC), dinp = dinp0, dweight = dweight0, dbias = dbias0;
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      out[size_t(n) * OC + o] = bias[o] + PlainDot(&inp[size_t(n) * C], &weight[size_t(o) * C], C);
    }
  }
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      for (int c = 0; c < C; c++) {
        dinp[size_t(n) * C + c] += dout[size_t(n) * OC + o] * weight[size_t(o) * C + c];
      }
    }
  }
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      const float d = dout[size_t(n) * OC + o];
      for (int c = 0; c < C; c++) dweight[size_t(o) * C + c] += d * inp[size_t(n) * C + c];
      dbias[o] += d;
    }
  }
  for (int threads : {1, 3}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    std::vector<float> got_out(out.size()), got_dinp = dinp0, got_dweight = dweight0,
                                            got_dbias = dbias0;
    MatmulForward(got_out.data(), inp.data(), weight.data(), bias.data(), N, C, OC);
    MatmulBackward(got_dinp.data(), got_dweight.data(), got_dbias.data(), dout.data(), inp.data(),
                   weight.data(), N, C, OC);
    EXPECT_EQ(got_out, out) << "threads " << threads;
    EXPECT_EQ(got_dinp, dinp) << "threads " << threads;
    EXPECT_EQ(got_dweight, dweight) << "threads " << threads;
    EXPECT_EQ(got_dbias, dbias) << "threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulTest,
                         ::testing::Values(Shape{1, 1, 1}, Shape{5, 7, 3}, Shape{4, 16, 12},
                                           Shape{67, 21, 130}, Shape{130, 72, 259},
                                           Shape{3, 200, 5}, Shape{64, 64, 128}));

// The vectorised e^x inside the cross-entropy: log-sum-exp and softmax within float rounding of a
// double-precision computation (the softmax's bound is set by rounding row − lse to a float, as
// std::exp on that float would be), over rows whose logits span e^−120 … e^0 relative to the
// maximum (the smallest underflow to 0), with a tail that is not a multiple of eight.
TEST(CrossEntropy, LogSumExpAndSoftmaxMatchDoublePrecision) {
  const int N = 6, V = 1003, Vp = 1024;
  std::mt19937 random(11);
  std::uniform_real_distribution<float> spread(-120.0f, 0.0f);
  std::vector<float> logits(size_t(N) * Vp, 0.0f);
  for (int n = 0; n < N; n++) {
    const float shift = 10.0f * n - 25.0f;
    for (int v = 0; v < V; v++) logits[size_t(n) * Vp + v] = spread(random) + shift;
    logits[size_t(n) * Vp + 7 * n] = shift;  // the maximum
  }
  const std::vector<int> targets = {0, 5, -1, 1002, 500, 3};
  std::vector<float> losses(N), lse(N), dlogits(logits.size(), 0.0f);
  CrossEntropyForward(losses.data(), lse.data(), logits.data(), targets.data(), N, V, Vp);
  CrossEntropyBackward(dlogits.data(), logits.data(), lse.data(), targets.data(), 0.5f, N, V, Vp);
  for (int n = 0; n < N; n++) {
    const float* row = &logits[size_t(n) * Vp];
    double max = row[0], sum = 0;
    for (int v = 0; v < V; v++) max = std::max<double>(max, row[v]);
    for (int v = 0; v < V; v++) sum += std::exp(double(row[v]) - max);
    const double want = max + std::log(sum);
    EXPECT_NEAR(lse[n], want, 4e-7 * std::abs(want) + 1e-6) << "row " << n;
    EXPECT_EQ(losses[n], targets[n] < 0 ? 0.0f : lse[n] - row[targets[n]]);
    for (int v = 0; v < V; v++) {
      const double p = std::exp(double(row[v]) - want);
      const double grad = targets[n] < 0 ? 0.0 : 0.5 * (p - (v == targets[n]));
      ASSERT_NEAR(dlogits[size_t(n) * Vp + v], grad, 4e-6 * std::abs(grad) + 1e-12)
          << "row " << n << " v " << v;
    }
    for (int v = V; v < Vp; v++) EXPECT_EQ(dlogits[size_t(n) * Vp + v], 0.0f);
  }
}

}  // namespace
}  // namespace winnow::trainer::cpu
