// trainer/cuda/optimizer.cu — AdamW and the global gradient norm (CPU: trainer/model/optimizer.h).
#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr int kThreads = 256;

// Block k sums the squares of elements k·blockDim + i (grid-stride) in fp64; partial (gridDim).
// The grid size is the constant kGradNormBlocks, so the order of every addition is fixed.
__global__ void SumOfSquaresPartialKernel(double* partial, const float* grads, size_t n) {
  __shared__ double shared[kThreads];
  double sum = 0;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    const double g = grads[i];
    sum += g * g;
  }
  shared[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = shared[0];
}

// out[0] = Σ partial, one thread, in order.
__global__ void SumOfSquaresFinishKernel(double* out, const double* partial, int count) {
  double sum = 0;
  for (int k = 0; k < count; k++) sum += partial[k];
  out[0] = sum;
}

__global__ void AdamWKernel(float* params, bf16* params_bf16, const float* grads, float* m,
                            float* v, size_t n, AdamWArgs a) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i >= n) return;
  const float g = grads[i] * a.grad_scale;
  const float mi = a.beta1 * m[i] + (1.0f - a.beta1) * g;
  const float vi = a.beta2 * v[i] + (1.0f - a.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  const float m_hat = mi / a.correction1;
  const float v_hat = vi / a.correction2;
  float p = params[i];
  p -= a.learning_rate * (m_hat / (sqrtf(v_hat) + a.eps) + a.weight_decay * p);
  params[i] = p;
  params_bf16[i] = ToBf16(p);
}

}  // namespace

cudaError_t SumOfSquares(double* out, const float* grads, size_t n, double* scratch,
                         cudaStream_t stream) {
  SumOfSquaresPartialKernel<<<kGradNormBlocks, kThreads, 0, stream>>>(scratch, grads, n);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  SumOfSquaresFinishKernel<<<1, 1, 0, stream>>>(out, scratch, kGradNormBlocks);
  return Launched();
}

cudaError_t AdamW(float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                  size_t n, const AdamWArgs& args, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  AdamWKernel<<<BlocksFor(n, kThreads), kThreads, 0, stream>>>(params, params_bf16, grads, m, v, n,
                                                               args);
  return Launched();
}

}  // namespace winnow::trainer::cuda
