// trainer/cuda/cross_entropy.cu — softmax over the first V of Vp logits fused with cross-entropy
// (CPU: cpu::CrossEntropyForward/Backward). The probabilities are never stored: the forward pass
// keeps each row's log-sum-exp, and the backward pass turns the logits into their gradient in
// place.
#include <cfloat>

#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr int kThreads = 512;

// Merges two (max, Σ exp(x − max)) pairs.
__device__ __forceinline__ void Merge(float& m, float& s, float m2, float s2) {
  const float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;  // both empty
  s = s * __expf(m - mx) + s2 * __expf(m2 - mx);
  m = mx;
}

// One block per row: each thread an online (max, sum) over a strided slice of the V columns,
// then the block's pairs merged in a fixed order.
__global__ void CrossEntropyForwardKernel(float* losses, float* lse, const bf16* logits,
                                          const int* targets, int V, int Vp) {
  __shared__ float shared_m[kThreads / 32], shared_s[kThreads / 32];
  const int n = blockIdx.x;
  const bf16* row = logits + size_t(n) * Vp;
  float m = -INFINITY, s = 0;
  for (int v = threadIdx.x; v < V; v += kThreads) {
    const float x = ToFloat(row[v]);
    if (x > m) {
      s = s * __expf(m - x) + 1.0f;
      m = x;
    } else {
      s += __expf(x - m);
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const float m2 = __shfl_xor_sync(kFullMask, m, offset);
    const float s2 = __shfl_xor_sync(kFullMask, s, offset);
    Merge(m, s, m2, s2);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    shared_m[warp] = m;
    shared_s[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  float bm = shared_m[0], bs = shared_s[0];
  for (int w = 1; w < kThreads / 32; w++) Merge(bm, bs, shared_m[w], shared_s[w]);
  const float l = bm + logf(bs);
  lse[n] = l;
  const int target = targets[n];
  losses[n] = target >= 0 ? l - ToFloat(row[target]) : 0.0f;
}

// One block per row, in place: dlogits = dloss·(softmax − one_hot(target)); padding columns 0.
__global__ void CrossEntropyBackwardKernel(bf16* logits, const float* lse, const int* targets,
                                           float dloss, int V, int Vp) {
  const int n = blockIdx.x;
  bf16* row = logits + size_t(n) * Vp;
  const int target = targets[n];
  const float l = lse[n];
  for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
    float d = 0;
    if (target >= 0 && v < V) {
      d = dloss * (__expf(ToFloat(row[v]) - l) - (v == target ? 1.0f : 0.0f));
    }
    row[v] = ToBf16(d);
  }
}

}  // namespace

cudaError_t CrossEntropyForward(float* losses, float* lse, const bf16* logits, const int* targets,
                                int N, int V, int Vp, cudaStream_t stream) {
  CrossEntropyForwardKernel<<<N, kThreads, 0, stream>>>(losses, lse, logits, targets, V, Vp);
  return Launched();
}

cudaError_t CrossEntropyBackward(bf16* logits, const float* lse, const int* targets, float dloss,
                                 int N, int V, int Vp, cudaStream_t stream) {
  CrossEntropyBackwardKernel<<<N, kThreads, 0, stream>>>(logits, lse, targets, dloss, V, Vp);
  return Launched();
}

}  // namespace winnow::trainer::cuda
