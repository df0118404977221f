// trainer/cuda/attention.cu — flash-style causal self-attention with optional document masking
// (CPU: cpu::AttentionForward/Backward). Following FlashAttention (Dao et al. 2022) and
// FlashAttention-2: the forward pass streams key/value tiles through shared memory with an online
// softmax and keeps only each query's log-sum-exp; the backward pass recomputes the probabilities
// from it. No (T, T) matrix exists anywhere. The kernels are plain fp32 FMA loops (one thread per
// query or key, head size a template parameter), written to be obviously correct rather than
// fast; nothing uses atomics, so results are deterministic.
//
// Tiles that every thread reads at the same address (broadcasts) are 16-byte aligned so the loads
// can be 128-bit; rows a thread reads on its own are padded to HS + 1 floats (no bank conflicts).
//
// Indexing: qkv (B,T,3C) with q at [b,t,h·hs + d], k at [b,t,C + h·hs + d], v at [b,t,2C + h·hs +
// d]; out, dout (B,T,C) at [b,t,h·hs + d]; lse, delta (B,NH,T). Query t attends to keys s with
// doc_start[b,t] ≤ s ≤ t; doc_start is non-decreasing in t (a tile's first query has the smallest).
#include "trainer/cuda/internal/common.cuh"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {
namespace {

constexpr int kForwardQueries = 64;  // queries per forward block, one per thread
constexpr int kForwardKeys = 64;     // keys per shared-memory tile in the forward pass
constexpr int kOwnRows = 64;         // keys (dK/dV) or queries (dQ) per backward block
constexpr int kStreamRows = 16;      // rows per streamed tile in the backward passes

// Σ_d a[d]·b[d] with four independent accumulators (a and b in registers or shared memory).
template <int HS>
__device__ __forceinline__ float Dot(const float* a, const float* b) {
  float acc[4] = {0, 0, 0, 0};
#pragma unroll
  for (int d = 0; d < HS; d++) acc[d % 4] += a[d] * b[d];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// grid (⌈T/64⌉, B·NH), block 64: one thread per query row t.
template <int HS>
__global__ void __launch_bounds__(kForwardQueries)
    AttentionForwardKernel(bf16* out, float* lse, const bf16* qkv, const int* doc_start, int T,
                           int C, int NH, float scale) {
  __shared__ __align__(16) float ks[kForwardKeys][HS];
  __shared__ __align__(16) float vs[kForwardKeys][HS];
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  // The last query tiles have the most keys: start them first.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kForwardQueries;
  const int t = q0 + threadIdx.x;
  const bool active = t < T;
  const size_t C3 = size_t{3} * C;
  const bf16* base = qkv + size_t(b) * T * C3 + size_t(h) * HS;

  float q[HS], o[HS];
  int s0 = 0;
#pragma unroll
  for (int d = 0; d < HS; d++) {
    q[d] = active ? ToFloat(base[t * C3 + d]) : 0.0f;
    o[d] = 0;
  }
  if (active) s0 = doc_start[size_t(b) * T + t];
  float m = -INFINITY, l = 0;

  const int first = doc_start[size_t(b) * T + q0];
  const int last = min(T, q0 + kForwardQueries) - 1;
  for (int k0 = first / kForwardKeys * kForwardKeys; k0 <= last; k0 += kForwardKeys) {
    __syncthreads();  // everyone is done with the previous tile
    for (int i = threadIdx.x; i < kForwardKeys * HS; i += kForwardQueries) {
      const int j = i / HS, d = i % HS, s = k0 + j;
      ks[j][d] = s < T ? ToFloat(base[s * C3 + C + d]) : 0.0f;
      vs[j][d] = s < T ? ToFloat(base[s * C3 + 2 * C + d]) : 0.0f;
    }
    __syncthreads();
    if (!active) continue;
    const int j_begin = max(s0 - k0, 0), j_end = min(t - k0, kForwardKeys - 1);
    for (int j = j_begin; j <= j_end; j++) {
      const float score = Dot<HS>(q, ks[j]) * scale;
      if (score > m) {  // a new maximum: rescale what was summed so far
        const float correction = __expf(m - score);
        l *= correction;
#pragma unroll
        for (int d = 0; d < HS; d++) o[d] *= correction;
        m = score;
      }
      const float p = __expf(score - m);
      l += p;
#pragma unroll
      for (int d = 0; d < HS; d++) o[d] += p * vs[j][d];
    }
  }
  if (!active) return;
  const float inv = 1.0f / l;
  bf16* o_row = out + (size_t(b) * T + t) * C + size_t(h) * HS;
#pragma unroll
  for (int d = 0; d < HS; d++) o_row[d] = ToBf16(o[d] * inv);
  lse[size_t(bh) * T + t] = m + logf(l);
}

// delta[b,h,t] = Σ_d dout[b,t,h·hs+d]·out[b,t,h·hs+d]: one warp per (b, t, h), 8 per block.
template <int HS>
__global__ void AttentionDeltaKernel(float* delta, const bf16* dout, const bf16* out, int B, int T,
                                     int C, int NH) {
  const size_t r = size_t(blockIdx.x) * 8 + threadIdx.y;  // (b·T + t)·NH + h
  if (r >= size_t(B) * T * NH) return;
  const int h = static_cast<int>(r % NH);
  const size_t bt = r / NH;
  const size_t b = bt / T, t = bt % T;
  const size_t at = bt * C + size_t(h) * HS;
  float sum = 0;
  for (int d = threadIdx.x; d < HS; d += 32) sum += ToFloat(dout[at + d]) * ToFloat(out[at + d]);
  sum = WarpSum(sum);
  if (threadIdx.x == 0) delta[(b * NH + h) * T + t] = sum;
}

// dK and dV: grid (⌈T/64⌉, B·NH), block 64, one thread per key s; query tiles of 16 stream
// through shared memory. With p = exp(q·k·scale − lse) and dp = dout·v:
//   dv_s = Σ_t p·dout_t;   dk_s = Σ_t p·(dp − delta_t)·scale·q_t.
template <int HS>
__global__ void __launch_bounds__(kOwnRows)
    AttentionBackwardKeyValueKernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse,
                                    const float* delta, const int* doc_start, int T, int C, int NH,
                                    float scale) {
  __shared__ float ks[kOwnRows][HS + 1];  // this block's keys and values, one row per thread;
  __shared__ float vs[kOwnRows][HS + 1];  // padded so a warp's rows fall in distinct banks
  __shared__ __align__(16) float qs[kStreamRows][HS];
  __shared__ __align__(16) float dos[kStreamRows][HS];
  __shared__ float lse_s[kStreamRows], delta_s[kStreamRows];
  __shared__ int start_s[kStreamRows];
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  const int k0 = blockIdx.x * kOwnRows;
  const int s = k0 + threadIdx.x;
  const bool active = s < T;
  const size_t C3 = size_t{3} * C;
  const bf16* base = qkv + size_t(b) * T * C3 + size_t(h) * HS;
  const bf16* dbase = dout + size_t(b) * T * C + size_t(h) * HS;
  for (int i = threadIdx.x; i < kOwnRows * HS; i += kOwnRows) {
    const int j = i / HS, d = i % HS, key = k0 + j;
    ks[j][d] = key < T ? ToFloat(base[key * C3 + C + d]) : 0.0f;
    vs[j][d] = key < T ? ToFloat(base[key * C3 + 2 * C + d]) : 0.0f;
  }
  float dk[HS], dv[HS];
#pragma unroll
  for (int d = 0; d < HS; d++) dk[d] = dv[d] = 0;

  const int k_last = min(T, k0 + kOwnRows) - 1;
  for (int i0 = k0; i0 < T; i0 += kStreamRows) {
    __syncthreads();
    for (int i = threadIdx.x; i < kStreamRows * HS; i += kOwnRows) {
      const int r = i / HS, d = i % HS, t = i0 + r;
      qs[r][d] = t < T ? ToFloat(base[t * C3 + d]) : 0.0f;
      dos[r][d] = t < T ? ToFloat(dbase[size_t(t) * C + d]) : 0.0f;
    }
    if (threadIdx.x < kStreamRows) {
      const int t = i0 + threadIdx.x;
      lse_s[threadIdx.x] = t < T ? lse[size_t(bh) * T + t] : 0.0f;
      delta_s[threadIdx.x] = t < T ? delta[size_t(bh) * T + t] : 0.0f;
      start_s[threadIdx.x] = t < T ? doc_start[size_t(b) * T + t] : T;
    }
    __syncthreads();
    // Later queries start their documents later still: none of them sees this block's keys.
    if (start_s[0] > k_last) break;
    if (!active) continue;
    for (int r = 0; r < kStreamRows; r++) {
      const int t = i0 + r;
      if (t >= T || t < s || start_s[r] > s) continue;
      const float p = __expf(Dot<HS>(qs[r], ks[threadIdx.x]) * scale - lse_s[r]);
      const float dp = Dot<HS>(dos[r], vs[threadIdx.x]);
      const float ds = p * (dp - delta_s[r]);
#pragma unroll
      for (int d = 0; d < HS; d++) {
        dv[d] += p * dos[r][d];
        dk[d] += ds * qs[r][d];
      }
    }
  }
  if (!active) return;
  bf16* row = dqkv + (size_t(b) * T + s) * C3 + size_t(h) * HS;
#pragma unroll
  for (int d = 0; d < HS; d++) {
    row[C + d] = ToBf16(dk[d] * scale);
    row[2 * C + d] = ToBf16(dv[d]);
  }
}

// dQ: grid (⌈T/64⌉, B·NH), block 64, one thread per query t; key tiles of 16 stream through
// shared memory.   dq_t = Σ_s p·(dp − delta_t)·scale·k_s.
template <int HS>
__global__ void __launch_bounds__(kOwnRows)
    AttentionBackwardQueryKernel(bf16* dqkv, const bf16* dout, const bf16* qkv, const float* lse,
                                 const float* delta, const int* doc_start, int T, int C, int NH,
                                 float scale) {
  __shared__ float qs[kOwnRows][HS + 1];
  __shared__ float dos[kOwnRows][HS + 1];
  __shared__ __align__(16) float ks[kStreamRows][HS];
  __shared__ __align__(16) float vs[kStreamRows][HS];
  const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kOwnRows;
  const int t = q0 + threadIdx.x;
  const bool active = t < T;
  const size_t C3 = size_t{3} * C;
  const bf16* base = qkv + size_t(b) * T * C3 + size_t(h) * HS;
  const bf16* dbase = dout + size_t(b) * T * C + size_t(h) * HS;
  for (int i = threadIdx.x; i < kOwnRows * HS; i += kOwnRows) {
    const int r = i / HS, d = i % HS, query = q0 + r;
    qs[r][d] = query < T ? ToFloat(base[query * C3 + d]) : 0.0f;
    dos[r][d] = query < T ? ToFloat(dbase[size_t(query) * C + d]) : 0.0f;
  }
  float dq[HS];
#pragma unroll
  for (int d = 0; d < HS; d++) dq[d] = 0;
  const float my_lse = active ? lse[size_t(bh) * T + t] : 0.0f;
  const float my_delta = active ? delta[size_t(bh) * T + t] : 0.0f;
  const int s0 = active ? doc_start[size_t(b) * T + t] : 0;

  const int first = doc_start[size_t(b) * T + q0];
  const int last = min(T, q0 + kOwnRows) - 1;
  for (int k0 = first / kStreamRows * kStreamRows; k0 <= last; k0 += kStreamRows) {
    __syncthreads();
    for (int i = threadIdx.x; i < kStreamRows * HS; i += kOwnRows) {
      const int j = i / HS, d = i % HS, s = k0 + j;
      ks[j][d] = s < T ? ToFloat(base[s * C3 + C + d]) : 0.0f;
      vs[j][d] = s < T ? ToFloat(base[s * C3 + 2 * C + d]) : 0.0f;
    }
    __syncthreads();
    if (!active) continue;
    for (int j = 0; j < kStreamRows; j++) {
      const int s = k0 + j;
      if (s < s0 || s > t) continue;
      const float p = __expf(Dot<HS>(qs[threadIdx.x], ks[j]) * scale - my_lse);
      const float dp = Dot<HS>(dos[threadIdx.x], vs[j]);
      const float ds = p * (dp - my_delta);
#pragma unroll
      for (int d = 0; d < HS; d++) dq[d] += ds * ks[j][d];
    }
  }
  if (!active) return;
  bf16* row = dqkv + (size_t(b) * T + t) * C3 + size_t(h) * HS;
#pragma unroll
  for (int d = 0; d < HS; d++) row[d] = ToBf16(dq[d] * scale);
}

// One thread per row b, walking its T tokens.
__global__ void DocumentStartsKernel(int* doc_start, const int* tokens, int eot, int B, int T) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  int start = 0;
  for (int t = 0; t < T; t++) {
    const size_t i = size_t(b) * T + t;
    if (eot >= 0 && tokens[i] == eot) start = t;
    doc_start[i] = start;
  }
}

template <int HS>
cudaError_t Forward(bf16* out, float* lse, const bf16* qkv, const int* doc_start, int B, int T,
                    int C, int NH, cudaStream_t stream) {
  const dim3 grid((T + kForwardQueries - 1) / kForwardQueries, B * NH);
  AttentionForwardKernel<HS><<<grid, kForwardQueries, 0, stream>>>(out, lse, qkv, doc_start, T, C,
                                                                   NH, 1.0f / sqrtf(float(HS)));
  return Launched();
}

template <int HS>
cudaError_t Backward(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                     const float* lse, const int* doc_start, float* delta, int B, int T, int C,
                     int NH, cudaStream_t stream) {
  const size_t rows = size_t(B) * T * NH;
  AttentionDeltaKernel<HS>
      <<<BlocksFor(rows, 8), dim3(32, 8), 0, stream>>>(delta, dout, out, B, T, C, NH);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  const dim3 grid((T + kOwnRows - 1) / kOwnRows, B * NH);
  const float scale = 1.0f / sqrtf(float(HS));
  AttentionBackwardKeyValueKernel<HS>
      <<<grid, kOwnRows, 0, stream>>>(dqkv, dout, qkv, lse, delta, doc_start, T, C, NH, scale);
  if (cudaError_t e = Launched(); e != cudaSuccess) return e;
  AttentionBackwardQueryKernel<HS>
      <<<grid, kOwnRows, 0, stream>>>(dqkv, dout, qkv, lse, delta, doc_start, T, C, NH, scale);
  return Launched();
}

}  // namespace

bool AttentionSupportsHeadSize(int hs) { return hs == 32 || hs == 64; }

cudaError_t DocumentStarts(int* doc_start, const int* tokens, int eot, int B, int T,
                           cudaStream_t stream) {
  DocumentStartsKernel<<<BlocksFor(B, 128), 128, 0, stream>>>(doc_start, tokens, eot, B, T);
  return Launched();
}

cudaError_t AttentionForward(bf16* out, float* lse, const bf16* qkv, const int* doc_start, int B,
                             int T, int C, int NH, cudaStream_t stream) {
  switch (C / NH) {
    case 32:
      return Forward<32>(out, lse, qkv, doc_start, B, T, C, NH, stream);
    case 64:
      return Forward<64>(out, lse, qkv, doc_start, B, T, C, NH, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t AttentionBackward(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                              const float* lse, const int* doc_start, float* scratch, int B, int T,
                              int C, int NH, cudaStream_t stream) {
  switch (C / NH) {
    case 32:
      return Backward<32>(dqkv, dout, qkv, out, lse, doc_start, scratch, B, T, C, NH, stream);
    case 64:
      return Backward<64>(dqkv, dout, qkv, out, lse, doc_start, scratch, B, T, C, NH, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace winnow::trainer::cuda
