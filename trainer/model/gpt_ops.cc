#include "trainer/model/gpt_ops.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "tbb/blocked_range.h"
#include "tbb/parallel_for.h"

namespace winnow::trainer::cpu {
namespace {

// Runs body(begin, end) over [0, n) on the TBB pool, in chunks big enough (by `cost`, the rough
// number of flops per item) that scheduling does not dominate; small jobs run on the caller.
template <typename Body>
void ParallelFor(int n, int64_t cost, const Body& body) {
  constexpr int64_t kMinCostPerTask = int64_t{1} << 15;
  const int grain =
      static_cast<int>(std::max<int64_t>(1, kMinCostPerTask / std::max<int64_t>(1, cost)));
  if (n <= grain) {
    body(0, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int>(0, n, grain),
                    [&](const tbb::blocked_range<int>& r) { body(r.begin(), r.end()); });
}

// Σ a[i]·b[i] in 8 interleaved partial sums: the compiler emits SIMD for it without -ffast-math,
// and the order of the additions is fixed, so the result never depends on the thread count.
[[gnu::always_inline]] inline float Dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

// y += alpha·x (y and x never overlap).
[[gnu::always_inline]] inline void Axpy(float* __restrict y, float alpha, const float* __restrict x,
                                        int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; k++) y[i + k] += alpha * x[i + k];
  }
  for (; i < n; i++) y[i] += alpha * x[i];
}

// Matmuls walk rows (or output channels) in tiles of this many, so that each weight row (or input
// row) is brought into cache once per tile rather than once per row.
constexpr int kTile = 8;

constexpr float kLayerNormEps = 1e-5f;

}  // namespace

void EncoderForward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T,
                    int C) {
  ParallelFor(B * T, C, [&](int begin, int end) {
    for (int bt = begin; bt < end; bt++) {
      const float* tok = wte + static_cast<size_t>(tokens[bt]) * C;
      const float* pos = wpe + static_cast<size_t>(bt % T) * C;
      float* o = out + static_cast<size_t>(bt) * C;
      for (int c = 0; c < C; c++) o[c] = tok[c] + pos[c];
    }
  });
}

void EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T,
                     int C) {
  // A scatter-add: the same token may appear many times, so this stays serial (and in order).
  for (int bt = 0; bt < B * T; bt++) {
    const float* d = dout + static_cast<size_t>(bt) * C;
    float* tok = dwte + static_cast<size_t>(tokens[bt]) * C;
    float* pos = dwpe + static_cast<size_t>(bt % T) * C;
    for (int c = 0; c < C; c++) {
      tok[c] += d[c];
      pos[c] += d[c];
    }
  }
}

void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C) {
  ParallelFor(N, 8 * C, [&](int begin, int end) {
    for (int n = begin; n < end; n++) {
      const float* x = inp + static_cast<size_t>(n) * C;
      double sum = 0;
      for (int c = 0; c < C; c++) sum += x[c];
      const float m = static_cast<float>(sum / C);
      double sq = 0;
      for (int c = 0; c < C; c++) sq += static_cast<double>(x[c] - m) * (x[c] - m);
      const float s = 1.0f / std::sqrt(static_cast<float>(sq / C) + kLayerNormEps);
      float* o = out + static_cast<size_t>(n) * C;
      for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
      mean[n] = m;
      rstd[n] = s;
    }
  });
}

void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int N, int C) {
  // dinp: each row on its own.   With x̂ = (x − mean)·rstd and g = weight·dout,
  // dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)).
  ParallelFor(N, 12 * C, [&](int begin, int end) {
    for (int n = begin; n < end; n++) {
      const float* x = inp + static_cast<size_t>(n) * C;
      const float* d = dout + static_cast<size_t>(n) * C;
      double g_sum = 0, gx_sum = 0;
      for (int c = 0; c < C; c++) {
        const float g = weight[c] * d[c];
        g_sum += g;
        gx_sum += g * ((x[c] - mean[n]) * rstd[n]);
      }
      const float g_mean = static_cast<float>(g_sum / C);
      const float gx_mean = static_cast<float>(gx_sum / C);
      float* dx = dinp + static_cast<size_t>(n) * C;
      for (int c = 0; c < C; c++) {
        const float xhat = (x[c] - mean[n]) * rstd[n];
        dx[c] += rstd[n] * (weight[c] * d[c] - g_mean - xhat * gx_mean);
      }
    }
  });
  // dweight, dbias: sums over rows, so the work is split by channel and each channel adds its rows
  // in order.
  constexpr int kChannels = 64;
  ParallelFor((C + kChannels - 1) / kChannels, 4 * kChannels * static_cast<int64_t>(N),
              [&](int begin, int end) {
                for (int block = begin; block < end; block++) {
                  const int c0 = block * kChannels, c1 = std::min(C, c0 + kChannels);
                  for (int n = 0; n < N; n++) {
                    const float* x = inp + static_cast<size_t>(n) * C;
                    const float* d = dout + static_cast<size_t>(n) * C;
                    for (int c = c0; c < c1; c++) {
                      dweight[c] += (x[c] - mean[n]) * rstd[n] * d[c];
                      dbias[c] += d[c];
                    }
                  }
                }
              });
}

// The matmuls' inner loops, one tile of rows (or of output channels) per call. On x86-64 they are
// compiled twice, for AVX2 and for the baseline, and the CPU picks at run time; neither version
// uses FMA or reorders a sum, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
#define WINNOW_SIMD_CLONES [[gnu::target_clones("avx2", "default")]]
#else
#define WINNOW_SIMD_CLONES
#endif

namespace {

// out[n,o] = bias[o] + inp[n,:] · weight[o,:] for rows n0 ≤ n < n1.
WINNOW_SIMD_CLONES void MatmulForwardRows(float* out, const float* inp, const float* weight,
                                          const float* bias, int n0, int n1, int C, int OC) {
  for (int o = 0; o < OC; o++) {
    const float* w = weight + static_cast<size_t>(o) * C;
    const float b = bias != nullptr ? bias[o] : 0.0f;
    for (int n = n0; n < n1; n++) {
      out[static_cast<size_t>(n) * OC + o] = b + Dot(inp + static_cast<size_t>(n) * C, w, C);
    }
  }
}

// dinp[n,:] += Σ_o dout[n,o] · weight[o,:] for rows n0 ≤ n < n1.
WINNOW_SIMD_CLONES void MatmulBackwardInputRows(float* dinp, const float* dout, const float* weight,
                                                int n0, int n1, int C, int OC) {
  for (int o = 0; o < OC; o++) {
    const float* w = weight + static_cast<size_t>(o) * C;
    for (int n = n0; n < n1; n++) {
      Axpy(dinp + static_cast<size_t>(n) * C, dout[static_cast<size_t>(n) * OC + o], w, C);
    }
  }
}

// dweight[o,:] += Σ_n dout[n,o] · inp[n,:] and dbias[o] += Σ_n dout[n,o] for channels o0 ≤ o < o1.
WINNOW_SIMD_CLONES void MatmulBackwardWeightRows(float* dweight, float* dbias, const float* dout,
                                                 const float* inp, int o0, int o1, int N, int C,
                                                 int OC) {
  for (int n = 0; n < N; n++) {
    const float* x = inp + static_cast<size_t>(n) * C;
    for (int o = o0; o < o1; o++) {
      const float d = dout[static_cast<size_t>(n) * OC + o];
      Axpy(dweight + static_cast<size_t>(o) * C, d, x, C);
      if (dbias != nullptr) dbias[o] += d;
    }
  }
}

}  // namespace

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC) {
  ParallelFor((N + kTile - 1) / kTile, int64_t{2} * kTile * C * OC, [&](int begin, int end) {
    for (int tile = begin; tile < end; tile++) {
      MatmulForwardRows(out, inp, weight, bias, tile * kTile, std::min(N, (tile + 1) * kTile), C,
                        OC);
    }
  });
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC) {
  // dinp: split by rows.
  ParallelFor((N + kTile - 1) / kTile, int64_t{2} * kTile * C * OC, [&](int begin, int end) {
    for (int tile = begin; tile < end; tile++) {
      MatmulBackwardInputRows(dinp, dout, weight, tile * kTile, std::min(N, (tile + 1) * kTile), C,
                              OC);
    }
  });
  // dweight and dbias: split by output channels, each summing over all rows in order.
  ParallelFor((OC + kTile - 1) / kTile, int64_t{2} * kTile * C * N, [&](int begin, int end) {
    for (int tile = begin; tile < end; tile++) {
      MatmulBackwardWeightRows(dweight, dbias, dout, inp, tile * kTile,
                               std::min(OC, (tile + 1) * kTile), N, C, OC);
    }
  });
}

void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH,
                      const int* doc_start) {
  const int hs = C / NH;  // head size
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const size_t C3 = static_cast<size_t>(3) * C;
  ParallelFor(B * NH, int64_t{2} * T * T * hs, [&](int begin, int end) {
    for (int bh = begin; bh < end; bh++) {
      const int b = bh / NH, h = bh % NH;
      const float* base = qkv + static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      for (int t = 0; t < T; t++) {
        const int s0 = doc_start != nullptr ? doc_start[b * T + t] : 0;  // first attended position
        const float* q = base + t * C3;
        float* a = att + (static_cast<size_t>(bh) * T + t) * T;
        // Scores of the positions s0 … t, then their softmax.
        float max_score = -std::numeric_limits<float>::infinity();
        for (int t2 = s0; t2 <= t; t2++) {
          const float* k = base + t2 * C3 + C;
          a[t2] = Dot(q, k, hs) * scale;
          max_score = std::max(max_score, a[t2]);
        }
        float sum = 0;
        for (int t2 = s0; t2 <= t; t2++) {
          a[t2] = std::exp(a[t2] - max_score);
          sum += a[t2];
        }
        const float inv_sum = 1.0f / sum;
        for (int t2 = s0; t2 <= t; t2++) a[t2] *= inv_sum;
        std::fill(a, a + s0, 0.0f);         // the document mask: earlier documents
        std::fill(a + t + 1, a + T, 0.0f);  // the causal mask: later positions
        // The output: attention-weighted sum of the values.
        float* o = out + (static_cast<size_t>(b) * T + t) * C + static_cast<size_t>(h) * hs;
        std::fill(o, o + hs, 0.0f);
        for (int t2 = s0; t2 <= t; t2++) Axpy(o, a[t2], base + t2 * C3 + 2 * C, hs);
      }
    }
  });
}

void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B,
                       int T, int C, int NH, const int* doc_start) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const size_t C3 = static_cast<size_t>(3) * C;
  // One (batch, head) per task: it owns its slice of dqkv, so no two tasks write the same floats.
  ParallelFor(B * NH, int64_t{6} * T * T * hs, [&](int begin, int end) {
    std::vector<float> dscore(T);
    for (int bh = begin; bh < end; bh++) {
      const int b = bh / NH, h = bh % NH;
      const size_t offset = static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      const float* base = qkv + offset;
      float* dbase = dqkv + offset;
      for (int t = 0; t < T; t++) {
        // Only the attended span s0 … t has a gradient: the masked scores are constants.
        const int s0 = doc_start != nullptr ? doc_start[b * T + t] : 0;
        const float* a = att + (static_cast<size_t>(bh) * T + t) * T;
        const float* d = dout + (static_cast<size_t>(b) * T + t) * C + static_cast<size_t>(h) * hs;
        // d(att)[t2] = dout_t · v_t2, then back through the softmax:
        // d(score)[t2] = att[t2] · (d(att)[t2] − Σ_j att[j] · d(att)[j]).
        float weighted = 0;
        for (int t2 = s0; t2 <= t; t2++) {
          dscore[t2] = Dot(d, base + t2 * C3 + 2 * C, hs);
          weighted += a[t2] * dscore[t2];
        }
        for (int t2 = s0; t2 <= t; t2++) dscore[t2] = a[t2] * (dscore[t2] - weighted) * scale;
        // score = q_t · k_t2 · scale; value sum out_t = Σ att[t2] v_t2.
        const float* q = base + t * C3;
        float* dq = dbase + t * C3;
        for (int t2 = s0; t2 <= t; t2++) {
          Axpy(dq, dscore[t2], base + t2 * C3 + C, hs);
          Axpy(dbase + t2 * C3 + C, dscore[t2], q, hs);
          Axpy(dbase + t2 * C3 + 2 * C, a[t2], d, hs);
        }
      }
    }
  });
}

void DocumentStarts(int* doc_start, const int* tokens, int B, int T, int eot_token) {
  for (int b = 0; b < B; b++) {
    int start = 0;
    for (int t = 0; t < T; t++) {
      if (tokens[b * T + t] == eot_token) start = t;
      doc_start[b * T + t] = start;
    }
  }
}

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluCube = 0.044715f;
}  // namespace

void GeluForward(float* out, const float* inp, int n) {
  ParallelFor(n, 30, [&](int begin, int end) {
    for (int i = begin; i < end; i++) {
      const float x = inp[i];
      out[i] = 0.5f * x * (1.0f + std::tanh(kGeluScale * (x + kGeluCube * x * x * x)));
    }
  });
}

void GeluBackward(float* dinp, const float* inp, const float* dout, int n) {
  ParallelFor(n, 40, [&](int begin, int end) {
    for (int i = begin; i < end; i++) {
      const float x = inp[i];
      const float th = std::tanh(kGeluScale * (x + kGeluCube * x * x * x));
      const float sech2 = 1.0f - th * th;
      const float grad =
          0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCube * x * x);
      dinp[i] += grad * dout[i];
    }
  });
}

void ResidualForward(float* out, const float* a, const float* b, int n) {
  ParallelFor(n, 1, [&](int begin, int end) {
    for (int i = begin; i < end; i++) out[i] = a[i] + b[i];
  });
}

void CrossEntropyForward(float* losses, float* lse, const float* logits, const int* targets, int N,
                         int V, int Vp) {
  ParallelFor(N, int64_t{20} * V, [&](int begin, int end) {
    for (int n = begin; n < end; n++) {
      const float* row = logits + static_cast<size_t>(n) * Vp;
      float max_logit = -std::numeric_limits<float>::infinity();
      for (int v = 0; v < V; v++) max_logit = std::max(max_logit, row[v]);
      double sum = 0;
      for (int v = 0; v < V; v++) sum += std::exp(row[v] - max_logit);
      lse[n] = max_logit + static_cast<float>(std::log(sum));
      losses[n] = targets[n] >= 0 ? lse[n] - row[targets[n]] : 0.0f;
    }
  });
}

void CrossEntropyBackward(float* dlogits, const float* logits, const float* lse, const int* targets,
                          float dloss, int N, int V, int Vp) {
  ParallelFor(N, int64_t{20} * V, [&](int begin, int end) {
    for (int n = begin; n < end; n++) {
      if (targets[n] < 0) continue;
      const float* row = logits + static_cast<size_t>(n) * Vp;
      float* d = dlogits + static_cast<size_t>(n) * Vp;
      for (int v = 0; v < V; v++) d[v] += dloss * std::exp(row[v] - lse[n]);
      d[targets[n]] -= dloss;
    }
  });
}

}  // namespace winnow::trainer::cpu
