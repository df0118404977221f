// trainer/cuda/internal/common.cuh — small device helpers the kernels share (CUDA only).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace winnow::trainer::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float WarpSum(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(kFullMask, x, offset);
  return x;
}

__device__ __forceinline__ float WarpMax(float x) {
  for (int offset = 16; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
  return x;
}

__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ __nv_bfloat16 ToBf16(float x) { return __float2bfloat16_rn(x); }

// Blocks for a one-thread-per-item launch of `n` items, `threads` per block.
inline unsigned BlocksFor(size_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// The launch error of the kernel just launched (a launch with zero blocks is skipped by callers).
inline cudaError_t Launched() { return cudaGetLastError(); }

}  // namespace winnow::trainer::cuda
