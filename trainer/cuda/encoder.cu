// trainer/cuda/encoder.cu — token + position embeddings (CPU: cpu::EncoderForward/Backward), and
// the fp32 ↔ bf16 conversions.
#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void ConvertToBf16Kernel(bf16* out, const float* in, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = ToBf16(in[i]);
  }
}

__global__ void ConvertToFloatKernel(float* out, const bf16* in, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = ToFloat(in[i]);
  }
}

// One thread per output element (b, t, c).
__global__ void EncoderForwardKernel(bf16* out, const int* tokens, const float* wte,
                                     const float* wpe, int B, int T, int C) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i >= size_t(B) * T * C) return;
  const size_t bt = i / C;
  const int c = static_cast<int>(i % C);
  const int t = static_cast<int>(bt % T);
  out[i] = ToBf16(wte[size_t(tokens[bt]) * C + c] + wpe[size_t(t) * C + c]);
}

// dwpe: one thread per (t, c), summing the B rows in order.
__global__ void EncoderBackwardPositionsKernel(float* dwpe, const float* dout, int B, int T,
                                               int C) {
  const size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
  if (i >= size_t(T) * C) return;
  float sum = 0;
  for (int b = 0; b < B; b++) sum += dout[size_t(b) * T * C + i];
  dwpe[i] += sum;
}

// dwte: one block per distinct token (blockIdx.y chunks of C), its positions summed in order.
__global__ void EncoderBackwardTokensKernel(float* dwte, const float* dout,
                                            const int* unique_tokens, const int* offsets,
                                            const int* positions, int C) {
  const int u = blockIdx.x;
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sum = 0;
  for (int j = offsets[u]; j < offsets[u + 1]; j++) sum += dout[size_t(positions[j]) * C + c];
  dwte[size_t(unique_tokens[u]) * C + c] += sum;
}

unsigned GridStrideBlocks(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

}  // namespace

cudaError_t ConvertToBf16(bf16* out, const float* in, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ConvertToBf16Kernel<<<GridStrideBlocks(n), kThreads, 0, stream>>>(out, in, n);
  return Launched();
}

cudaError_t ConvertToFloat(float* out, const bf16* in, size_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ConvertToFloatKernel<<<GridStrideBlocks(n), kThreads, 0, stream>>>(out, in, n);
  return Launched();
}

cudaError_t EncoderForward(bf16* out, const int* tokens, const float* wte, const float* wpe, int B,
                           int T, int C, cudaStream_t stream) {
  const size_t n = size_t(B) * T * C;
  EncoderForwardKernel<<<BlocksFor(n, kThreads), kThreads, 0, stream>>>(out, tokens, wte, wpe, B, T,
                                                                        C);
  return Launched();
}

cudaError_t EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* unique_tokens,
                            const int* offsets, const int* positions, int num_unique, int B, int T,
                            int C, cudaStream_t stream) {
  EncoderBackwardPositionsKernel<<<BlocksFor(size_t(T) * C, kThreads), kThreads, 0, stream>>>(
      dwpe, dout, B, T, C);
  if (cudaError_t e = Launched(); e != cudaSuccess || num_unique == 0) return e;
  const dim3 grid(num_unique, BlocksFor(C, kThreads));
  EncoderBackwardTokensKernel<<<grid, kThreads, 0, stream>>>(dwte, dout, unique_tokens, offsets,
                                                             positions, C);
  return Launched();
}

}  // namespace winnow::trainer::cuda
