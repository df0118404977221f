#include "trainer/model/gpt_ops.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// Eight floats as one value: GCC's vector extension, one AVX register in the AVX2 clone and two SSE
// registers in the baseline one. Element-wise + and * round exactly as the scalar operations do.
using V8 = float __attribute__((vector_size(32)));
// These helpers are always inlined, so how the baseline ABI would pass a V8 never matters.
#pragma GCC diagnostic ignored "-Wpsabi"

[[gnu::always_inline]] inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
[[gnu::always_inline]] inline void Store8(float* p, V8 v) { std::memcpy(p, &v, sizeof(v)); }
[[gnu::always_inline]] inline V8 Splat8(float x) { return V8{x, x, x, x, x, x, x, x}; }

// e^x for eight floats at once, within a few ulp of std::exp, and 0 for x < −87 (where e^x <
// 2^−125): x = n·ln 2 + r with |r| ≤ ½ ln 2 (ln 2 split in two parts, as Cody and Waite do), e^r
// from Cephes' degree-6 polynomial, 2^n written into the exponent bits. Only + and ·, never fused,
// so both clones give the same bits.
using I8 = int32_t __attribute__((vector_size(32)));
[[gnu::always_inline]] inline V8 Exp8(V8 x) {
  const V8 low = Splat8(-87.0f), high = Splat8(88.0f);
  V8 xc = x < low ? low : x;
  xc = xc > high ? high : xc;
  const V8 y = xc * 1.44269504088896341f + 0.5f;
  I8 n = __builtin_convertvector(y, I8);                        // truncates towards 0 …
  n += (__builtin_convertvector(n, V8) > y) ? I8{} - 1 : I8{};  // … so floor(y) for y < 0
  const V8 nf = __builtin_convertvector(n, V8);
  V8 r = xc - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  V8 p = Splat8(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V8 er = p * (r * r) + r + 1.0f;
  const I8 bits = (n + 127) << 23;
  V8 scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const V8 result = er * scale;
  return x < low ? Splat8(0.0f) : result;
}

// Blocks of rows (n), output channels (o) and input channels (c) that each task of a matmul owns:
// a block of weight rows is read from memory once per block of input rows, not once per row.
constexpr int kRowBlock = 64;
constexpr int kOutBlock = 128;
constexpr int kColBlock = 64;

// The three matmul kernels below keep R×S partial results in registers. Each output element still
// sees exactly the additions, in exactly the order, of the plain loops written in the comments (Dot
// for the forward pass, Axpy over o or n for the backward ones), so the bits do not depend on the
// blocking, on the thread count, or on which clone runs.

// out[n0+i, o0+j] = bias[o0+j] + Dot(inp[n0+i,:], weight[o0+j,:]) for i < R, j < S.
template <int R, int S>
[[gnu::always_inline]] inline void ForwardKernel(float* out, const float* inp, const float* weight,
                                                 const float* bias, int n0, int o0, int C, int OC) {
  const float* x[R];
  const float* w[S];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) x[i] = inp + static_cast<size_t>(n0 + i) * C;
#pragma GCC unroll 8
  for (int j = 0; j < S; j++) w[j] = weight + static_cast<size_t>(o0 + j) * C;
  V8 acc[R][S];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
    for (int j = 0; j < S; j++) acc[i][j] = Splat8(0.0f);
  }
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    V8 wv[S];
#pragma GCC unroll 8
    for (int j = 0; j < S; j++) wv[j] = Load8(w[j] + c);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      const V8 xv = Load8(x[i] + c);
#pragma GCC unroll 8
      for (int j = 0; j < S; j++) acc[i][j] += xv * wv[j];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
    for (int j = 0; j < S; j++) {
      const V8 a = acc[i][j];  // Dot's order: lanes paired, then the tail
      float sum = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
      for (int k = c; k < C; k++) sum += x[i][k] * w[j][k];
      out[static_cast<size_t>(n0 + i) * OC + o0 + j] =
          (bias != nullptr ? bias[o0 + j] : 0.0f) + sum;
    }
  }
}

// One (row block × output block) of out = inp @ weight^T + bias, 4 rows × 3 outputs at a time.
WINNOW_SIMD_CLONES void ForwardBlock(float* out, const float* inp, const float* weight,
                                     const float* bias, int n0, int n1, int o0, int o1, int C,
                                     int OC) {
  for (int o = o0; o < o1; o += 3) {
    const int S = std::min(3, o1 - o);
    for (int n = n0; n < n1; n += 4) {
      const int R = std::min(4, n1 - n);
#define WINNOW_FORWARD_CASE(r, s)                             \
  case (r)*4 + (s):                                           \
    ForwardKernel<r, s>(out, inp, weight, bias, n, o, C, OC); \
    break;
      switch (R * 4 + S) {
        WINNOW_FORWARD_CASE(1, 1)
        WINNOW_FORWARD_CASE(1, 2)
        WINNOW_FORWARD_CASE(1, 3)
        WINNOW_FORWARD_CASE(2, 1)
        WINNOW_FORWARD_CASE(2, 2)
        WINNOW_FORWARD_CASE(2, 3)
        WINNOW_FORWARD_CASE(3, 1)
        WINNOW_FORWARD_CASE(3, 2)
        WINNOW_FORWARD_CASE(3, 3)
        WINNOW_FORWARD_CASE(4, 1)
        WINNOW_FORWARD_CASE(4, 2)
        WINNOW_FORWARD_CASE(4, 3)
      }
#undef WINNOW_FORWARD_CASE
    }
  }
}

// acc[i] (row n0+i, 8·V columns from c) += Σ_{o0 ≤ o < o1} dout[n0+i,o] · weight[o, c…], o in
// order: the same additions as Axpy(dinp[n], dout[n,o], weight[o]) for o = 0, 1, ….
template <int R, int V>
[[gnu::always_inline]] inline void InputGradKernel(float* dinp, const float* dout,
                                                   const float* weight, int n0, int c, int o0,
                                                   int o1, int C, int OC) {
  V8 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++)
      acc[i][v] = Load8(dinp + static_cast<size_t>(n0 + i) * C + c + 8 * v);
  }
  for (int o = o0; o < o1; o++) {
    const float* w = weight + static_cast<size_t>(o) * C + c;
    V8 wv[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) wv[v] = Load8(w + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      const V8 d = Splat8(dout[static_cast<size_t>(n0 + i) * OC + o]);
#pragma GCC unroll 8
      for (int v = 0; v < V; v++) acc[i][v] += d * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++)
      Store8(dinp + static_cast<size_t>(n0 + i) * C + c + 8 * v, acc[i][v]);
  }
}

// dinp[n0:n1, c0:c1] += dout[n0:n1, :] @ weight[:, c0:c1], each element adding o = 0, 1, … in
// order.
WINNOW_SIMD_CLONES void InputGradBlock(float* dinp, const float* dout, const float* weight, int n0,
                                       int n1, int c0, int c1, int C, int OC) {
  for (int o0 = 0; o0 < OC; o0 += kOutBlock) {
    const int o1 = std::min(OC, o0 + kOutBlock);
    int c = c0;
    for (; c + 16 <= c1; c += 16) {
      int n = n0;
      for (; n + 4 <= n1; n += 4) InputGradKernel<4, 2>(dinp, dout, weight, n, c, o0, o1, C, OC);
      for (; n < n1; n++) InputGradKernel<1, 2>(dinp, dout, weight, n, c, o0, o1, C, OC);
    }
    for (; c + 8 <= c1; c += 8) {
      for (int n = n0; n < n1; n++) InputGradKernel<1, 1>(dinp, dout, weight, n, c, o0, o1, C, OC);
    }
    for (; c < c1; c++) {  // the last C mod 8 columns
      for (int n = n0; n < n1; n++) {
        float* y = dinp + static_cast<size_t>(n) * C + c;
        for (int o = o0; o < o1; o++) {
          *y += dout[static_cast<size_t>(n) * OC + o] * weight[static_cast<size_t>(o) * C + c];
        }
      }
    }
  }
}

// acc[j] (output channel o0+j, 8·V columns from c) += Σ_{n0 ≤ n < n1} dout[n,o0+j] · inp[n, c…],
// n in order: the same additions as Axpy(dweight[o], dout[n,o], inp[n]) for n = 0, 1, ….
template <int S, int V>
[[gnu::always_inline]] inline void WeightGradKernel(float* dweight, const float* dout,
                                                    const float* inp, int o0, int c, int n0, int n1,
                                                    int C, int OC) {
  V8 acc[S][V];
#pragma GCC unroll 8
  for (int j = 0; j < S; j++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) {
      acc[j][v] = Load8(dweight + static_cast<size_t>(o0 + j) * C + c + 8 * v);
    }
  }
  for (int n = n0; n < n1; n++) {
    const float* x = inp + static_cast<size_t>(n) * C + c;
    V8 xv[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) xv[v] = Load8(x + 8 * v);
#pragma GCC unroll 8
    for (int j = 0; j < S; j++) {
      const V8 d = Splat8(dout[static_cast<size_t>(n) * OC + o0 + j]);
#pragma GCC unroll 8
      for (int v = 0; v < V; v++) acc[j][v] += d * xv[v];
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < S; j++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++)
      Store8(dweight + static_cast<size_t>(o0 + j) * C + c + 8 * v, acc[j][v]);
  }
}

// dweight[o0:o1, c0:c1] += dout[:, o0:o1]^T @ inp[:, c0:c1], each element adding n = 0, 1, … in
// order; with `with_bias`, also dbias[o0:o1] += Σ_n dout[n, o0:o1] (n in order).
WINNOW_SIMD_CLONES void WeightGradBlock(float* dweight, float* dbias, const float* dout,
                                        const float* inp, int o0, int o1, int c0, int c1, int N,
                                        int C, int OC) {
  for (int n0 = 0; n0 < N; n0 += kRowBlock) {
    const int n1 = std::min(N, n0 + kRowBlock);
    int c = c0;
    for (; c + 16 <= c1; c += 16) {
      int o = o0;
      for (; o + 4 <= o1; o += 4) WeightGradKernel<4, 2>(dweight, dout, inp, o, c, n0, n1, C, OC);
      for (; o < o1; o++) WeightGradKernel<1, 2>(dweight, dout, inp, o, c, n0, n1, C, OC);
    }
    for (; c + 8 <= c1; c += 8) {
      for (int o = o0; o < o1; o++) WeightGradKernel<1, 1>(dweight, dout, inp, o, c, n0, n1, C, OC);
    }
    for (; c < c1; c++) {  // the last C mod 8 columns
      for (int o = o0; o < o1; o++) {
        float* y = dweight + static_cast<size_t>(o) * C + c;
        for (int n = n0; n < n1; n++) {
          *y += dout[static_cast<size_t>(n) * OC + o] * inp[static_cast<size_t>(n) * C + c];
        }
      }
    }
  }
  if (dbias != nullptr) {
    for (int n = 0; n < N; n++) {
      for (int o = o0; o < o1; o++) dbias[o] += dout[static_cast<size_t>(n) * OC + o];
    }
  }
}

int Blocks(int n, int block) { return (n + block - 1) / block; }

}  // namespace

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC) {
  // Tasks own (row block, output block) tiles of `out`.
  const int row_blocks = Blocks(N, kRowBlock), out_blocks = Blocks(OC, kOutBlock);
  ParallelFor(row_blocks * out_blocks, int64_t{2} * kRowBlock * kOutBlock * C,
              [&](int begin, int end) {
                for (int t = begin; t < end; t++) {
                  const int n0 = t / out_blocks * kRowBlock, o0 = t % out_blocks * kOutBlock;
                  ForwardBlock(out, inp, weight, bias, n0, std::min(N, n0 + kRowBlock), o0,
                               std::min(OC, o0 + kOutBlock), C, OC);
                }
              });
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC) {
  // dinp: tasks own (row block, column block) tiles, each summing over every output in order.
  const int row_blocks = Blocks(N, kRowBlock), col_blocks = Blocks(C, kColBlock);
  ParallelFor(row_blocks * col_blocks, int64_t{2} * kRowBlock * kColBlock * OC,
              [&](int begin, int end) {
                for (int t = begin; t < end; t++) {
                  const int n0 = t / col_blocks * kRowBlock, c0 = t % col_blocks * kColBlock;
                  InputGradBlock(dinp, dout, weight, n0, std::min(N, n0 + kRowBlock), c0,
                                 std::min(C, c0 + kColBlock), C, OC);
                }
              });
  // dweight and dbias: tasks own (output block, column block) tiles, each summing over every row
  // in order; the first column block of each output block adds the bias gradient.
  const int out_blocks = Blocks(OC, kOutBlock);
  ParallelFor(
      out_blocks * col_blocks, int64_t{2} * kOutBlock * kColBlock * N, [&](int begin, int end) {
        for (int t = begin; t < end; t++) {
          const int o0 = t / col_blocks * kOutBlock, c0 = t % col_blocks * kColBlock;
          WeightGradBlock(dweight, c0 == 0 ? dbias : nullptr, dout, inp, o0,
                          std::min(OC, o0 + kOutBlock), c0, std::min(C, c0 + kColBlock), N, C, OC);
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

namespace {

// log Σ_{v<V} e^row[v]: the maximum, then Σ e^(row[v] − max) in eight double partial sums (lane k
// takes v ≡ k mod 8, in order), paired, then the tail.
WINNOW_SIMD_CLONES float LogSumExp(const float* row, int V) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (int v = 0; v < V; v++) max_logit = std::max(max_logit, row[v]);
  const V8 m = Splat8(max_logit);
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int v = 0;
  for (; v + 8 <= V; v += 8) {
    const V8 e = Exp8(Load8(row + v) - m);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) acc[k] += e[k];
  }
  double sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; v < V; v++) sum += Exp8(Splat8(row[v] - max_logit))[0];
  return max_logit + static_cast<float>(std::log(sum));
}

// d[v] += dloss · e^(row[v] − lse) for v < V.
WINNOW_SIMD_CLONES void AddSoftmax(float* d, const float* row, float lse, float dloss, int V) {
  const V8 l = Splat8(lse), scale = Splat8(dloss);
  int v = 0;
  for (; v + 8 <= V; v += 8) Store8(d + v, Load8(d + v) + scale * Exp8(Load8(row + v) - l));
  for (; v < V; v++) d[v] += dloss * Exp8(Splat8(row[v] - lse))[0];
}

}  // namespace

void CrossEntropyForward(float* losses, float* lse, const float* logits, const int* targets, int N,
                         int V, int Vp) {
  ParallelFor(N, int64_t{20} * V, [&](int begin, int end) {
    for (int n = begin; n < end; n++) {
      const float* row = logits + static_cast<size_t>(n) * Vp;
      lse[n] = LogSumExp(row, V);
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
      AddSoftmax(d, row, lse[n], dloss, V);
      d[targets[n]] -= dloss;
    }
  });
}

}  // namespace winnow::trainer::cpu
