#include "trainer/model/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "tbb/blocked_range.h"
#include "tbb/parallel_for.h"

namespace winnow::trainer {
namespace {

// Elementwise loops are split into chunks of this many floats.
constexpr size_t kChunk = 1 << 14;

template <typename Body>
void ForChunks(size_t n, const Body& body) {
  const size_t chunks = (n + kChunk - 1) / kChunk;
  tbb::parallel_for(size_t{0}, chunks,
                    [&](size_t chunk) { body(chunk * kChunk, std::min(n, (chunk + 1) * kChunk)); });
}

}  // namespace

void AdamWUpdate(std::span<float> params, std::span<const float> grads, std::span<float> m,
                 std::span<float> v, int64_t step, float learning_rate, float weight_decay,
                 const AdamWOptions& options) {
  const float b1 = options.beta1, b2 = options.beta2;
  const float correction1 = 1.0f - std::pow(b1, static_cast<float>(step));
  const float correction2 = 1.0f - std::pow(b2, static_cast<float>(step));
  ForChunks(params.size(), [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      const float g = grads[i];
      m[i] = b1 * m[i] + (1.0f - b1) * g;
      v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      const float m_hat = m[i] / correction1;
      const float v_hat = v[i] / correction2;
      params[i] -=
          learning_rate * (m_hat / (std::sqrt(v_hat) + options.eps) + weight_decay * params[i]);
    }
  });
}

void AdamWStep(Gpt& model, AdamWState& state, float learning_rate, const AdamWOptions& options) {
  const size_t n = model.num_parameters();
  if (state.m.size() != n) state.m.assign(n, 0.0f);
  if (state.v.size() != n) state.v.assign(n, 0.0f);
  state.step++;
  std::span<float> params = model.params();
  std::span<const float> grads = model.grads();
  for (const GptTensorInfo& t : GptLayout(model.config())) {
    AdamWUpdate(params.subspan(t.offset, t.size), grads.subspan(t.offset, t.size),
                std::span<float>(state.m).subspan(t.offset, t.size),
                std::span<float>(state.v).subspan(t.offset, t.size), state.step, learning_rate,
                t.weight_decay ? options.weight_decay : 0.0f, options);
  }
}

float GradNorm(std::span<const float> grads) {
  // Each chunk's sum of squares, then the chunks in order: fixed, whatever the threads.
  const size_t chunks = (grads.size() + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks);
  tbb::parallel_for(size_t{0}, chunks, [&](size_t chunk) {
    double sum = 0;
    const size_t end = std::min(grads.size(), (chunk + 1) * kChunk);
    for (size_t i = chunk * kChunk; i < end; i++) sum += static_cast<double>(grads[i]) * grads[i];
    partial[chunk] = sum;
  });
  double total = 0;
  for (double s : partial) total += s;
  return static_cast<float>(std::sqrt(total));
}

float ClipGradNorm(std::span<float> grads, float max_norm) {
  const float norm = GradNorm(grads);
  const float scale = max_norm / (norm + 1e-6f);
  if (scale < 1.0f) {
    ForChunks(grads.size(), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; i++) grads[i] *= scale;
    });
  }
  return norm;
}

}  // namespace winnow::trainer
