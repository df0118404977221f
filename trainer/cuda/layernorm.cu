// trainer/cuda/layernorm.cu — LayerNorm forward/backward (CPU: cpu::LayerNormForward/Backward),
// the residual add fused into the LayerNorm that follows it, and the column sums the gain and bias
// gradients need (also used for the matmuls' bias gradients).
#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr float kEps = 1e-5f;
constexpr int kRowsPerBlock = 8;  // one warp per row
constexpr int kChunkRows = 256;   // rows per partial column sum

// One warp per row n of C: statistics in fp32, output bf16. With `a` and `b`, the row is first
// formed as residual = bf16(a + b) (and stored); otherwise it is read from `inp`.
template <bool kFused>
__global__ void LayerNormForwardKernel(bf16* residual, bf16* out, float* mean, float* rstd,
                                       const bf16* inp, const bf16* a, const bf16* b,
                                       const float* weight, const float* bias, int N, int C) {
  const int n = blockIdx.x * kRowsPerBlock + threadIdx.y;
  const int lane = threadIdx.x;
  if (n >= N) return;
  const size_t row = size_t(n) * C;
  const bf16* x = kFused ? residual + row : inp + row;
  float sum = 0;
  for (int c = lane; c < C; c += 32) {
    float v;
    if constexpr (kFused) {
      const bf16 r = ToBf16(ToFloat(a[row + c]) + ToFloat(b[row + c]));
      residual[row + c] = r;  // this thread reads it back below
      v = ToFloat(r);
    } else {
      v = ToFloat(x[c]);
    }
    sum += v;
  }
  const float m = WarpSum(sum) / C;
  float sq = 0;
  for (int c = lane; c < C; c += 32) {
    const float d = ToFloat(x[c]) - m;
    sq += d * d;
  }
  const float s = rsqrtf(WarpSum(sq) / C + kEps);
  for (int c = lane; c < C; c += 32) {
    out[row + c] = ToBf16((ToFloat(x[c]) - m) * s * weight[c] + bias[c]);
  }
  if (lane == 0) {
    mean[n] = m;
    rstd[n] = s;
  }
}

// d(inp) of one row per warp:  with x̂ = (x − mean)·rstd and g = weight·dout,
// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); added to dresidual (fp32), copied to bf16.
__global__ void LayerNormBackwardInputKernel(float* dresidual, bf16* dresidual_bf16,
                                             const bf16* dout, const bf16* inp, const float* weight,
                                             const float* mean, const float* rstd, int N, int C) {
  const int n = blockIdx.x * kRowsPerBlock + threadIdx.y;
  const int lane = threadIdx.x;
  if (n >= N) return;
  const size_t row = size_t(n) * C;
  const float m = mean[n], s = rstd[n];
  float g_sum = 0, gx_sum = 0;
  for (int c = lane; c < C; c += 32) {
    const float g = weight[c] * ToFloat(dout[row + c]);
    g_sum += g;
    gx_sum += g * (ToFloat(inp[row + c]) - m) * s;
  }
  const float g_mean = WarpSum(g_sum) / C;
  const float gx_mean = WarpSum(gx_sum) / C;
  for (int c = lane; c < C; c += 32) {
    const float xhat = (ToFloat(inp[row + c]) - m) * s;
    const float g = weight[c] * ToFloat(dout[row + c]);
    const float d = dresidual[row + c] + s * (g - g_mean - xhat * gx_mean);
    dresidual[row + c] = d;
    dresidual_bf16[row + c] = ToBf16(d);
  }
}

// Partial column sums over chunks of kChunkRows rows. Block (32, 8): x a column, y a row stripe;
// grid (⌈C/32⌉, chunks). partial_a[chunk, c] = Σ dout[n,c] (·x̂[n,c] when kLayerNorm, which also
// writes partial_b[chunk, c] = Σ dout[n,c]).
template <bool kLayerNorm>
__global__ void ColumnSumPartialKernel(float* partial_a, float* partial_b, const bf16* dout,
                                       const bf16* inp, const float* mean, const float* rstd, int N,
                                       int C) {
  __shared__ float sum_a[8][32];
  __shared__ float sum_b[8][32];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int chunk = blockIdx.y;
  const int end = min(N, (chunk + 1) * kChunkRows);
  float a = 0, b = 0;
  if (c < C) {
    for (int n = chunk * kChunkRows + threadIdx.y; n < end; n += 8) {
      const size_t i = size_t(n) * C + c;
      const float d = ToFloat(dout[i]);
      if constexpr (kLayerNorm) {
        a += (ToFloat(inp[i]) - mean[n]) * rstd[n] * d;
        b += d;
      } else {
        a += d;
      }
    }
  }
  sum_a[threadIdx.y][threadIdx.x] = a;
  sum_b[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  float ta = 0, tb = 0;
  for (int y = 0; y < 8; y++) {
    ta += sum_a[y][threadIdx.x];
    tb += sum_b[y][threadIdx.x];
  }
  partial_a[size_t(chunk) * C + c] = ta;
  if constexpr (kLayerNorm) partial_b[size_t(chunk) * C + c] = tb;
}

// out[c] += Σ_chunk partial[chunk, c], chunks in order.
__global__ void ColumnSumFinishKernel(float* out, const float* partial, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sum = 0;
  for (int k = 0; k < chunks; k++) sum += partial[size_t(k) * C + c];
  out[c] += sum;
}

int Chunks(int N) { return (N + kChunkRows - 1) / kChunkRows; }

}  // namespace

size_t ColumnSumScratchFloats(int N, int C) { return size_t(Chunks(N)) * C; }

cudaError_t LayerNormForward(bf16* out, float* mean, float* rstd, const bf16* inp,
                             const float* weight, const float* bias, int N, int C,
                             cudaStream_t stream) {
  const dim3 block(32, kRowsPerBlock);
  LayerNormForwardKernel<false><<<BlocksFor(N, kRowsPerBlock), block, 0, stream>>>(
      nullptr, out, mean, rstd, inp, nullptr, nullptr, weight, bias, N, C);
  return Launched();
}

cudaError_t ResidualLayerNormForward(bf16* residual, bf16* out, float* mean, float* rstd,
                                     const bf16* a, const bf16* b, const float* weight,
                                     const float* bias, int N, int C, cudaStream_t stream) {
  const dim3 block(32, kRowsPerBlock);
  LayerNormForwardKernel<true><<<BlocksFor(N, kRowsPerBlock), block, 0, stream>>>(
      residual, out, mean, rstd, nullptr, a, b, weight, bias, N, C);
  return Launched();
}

cudaError_t LayerNormBackward(float* dresidual, bf16* dresidual_bf16, float* dweight, float* dbias,
                              const bf16* dout, const bf16* inp, const float* weight,
                              const float* mean, const float* rstd, float* scratch, int N, int C,
                              cudaStream_t stream) {
  const dim3 block(32, kRowsPerBlock);
  LayerNormBackwardInputKernel<<<BlocksFor(N, kRowsPerBlock), block, 0, stream>>>(
      dresidual, dresidual_bf16, dout, inp, weight, mean, rstd, N, C);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  float* partial_w = scratch;
  float* partial_b = scratch + ColumnSumScratchFloats(N, C);
  const dim3 grid(BlocksFor(C, 32), Chunks(N));
  ColumnSumPartialKernel<true>
      <<<grid, dim3(32, 8), 0, stream>>>(partial_w, partial_b, dout, inp, mean, rstd, N, C);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  ColumnSumFinishKernel<<<BlocksFor(C, 256), 256, 0, stream>>>(dweight, partial_w, Chunks(N), C);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  ColumnSumFinishKernel<<<BlocksFor(C, 256), 256, 0, stream>>>(dbias, partial_b, Chunks(N), C);
  return Launched();
}

cudaError_t BiasBackward(float* dbias, const bf16* dout, float* scratch, int N, int OC,
                         cudaStream_t stream) {
  const dim3 grid(BlocksFor(OC, 32), Chunks(N));
  ColumnSumPartialKernel<false>
      <<<grid, dim3(32, 8), 0, stream>>>(scratch, nullptr, dout, nullptr, nullptr, nullptr, N, OC);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  ColumnSumFinishKernel<<<BlocksFor(OC, 256), 256, 0, stream>>>(dbias, scratch, Chunks(N), OC);
  return Launched();
}

}  // namespace winnow::trainer::cuda
