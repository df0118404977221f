// trainer/cuda/gelu.cu — GELU, tanh approximation (CPU: cpu::GeluForward/Backward).
#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kGeluScale = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluCube = 0.044715f;

// out[i] = gelu(inp[i])   (n) bf16, computed in fp32
__global__ void GeluForwardKernel(bf16* out, const bf16* inp, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i >= n) return;
  const float x = ToFloat(inp[i]);
  out[i] = ToBf16(0.5f * x * (1.0f + tanhf(kGeluScale * (x + kGeluCube * x * x * x))));
}

// dinp[i] = gelu'(inp[i])·dout[i]   (n) bf16; dinp may be dout
__global__ void GeluBackwardKernel(bf16* dinp, const bf16* inp, const bf16* dout, size_t n) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i >= n) return;
  const float x = ToFloat(inp[i]);
  const float th = tanhf(kGeluScale * (x + kGeluCube * x * x * x));
  const float sech2 = 1.0f - th * th;
  const float grad =
      0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * kGeluCube * x * x);
  dinp[i] = ToBf16(grad * ToFloat(dout[i]));
}

}  // namespace

cudaError_t GeluForward(bf16* out, const bf16* inp, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  GeluForwardKernel<<<BlocksFor(n, kThreads), kThreads, 0, stream>>>(out, inp, n);
  return Launched();
}

cudaError_t GeluBackward(bf16* dinp, const bf16* inp, const bf16* dout, size_t n,
                         cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  GeluBackwardKernel<<<BlocksFor(n, kThreads), kThreads, 0, stream>>>(dinp, inp, dout, n);
  return Launched();
}

}  // namespace winnow::trainer::cuda
