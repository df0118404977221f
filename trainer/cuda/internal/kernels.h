// trainer/cuda/internal/kernels.h — the CUDA kernels of the GPT-2 trainer, as plain launch
// functions that C++ (g++) code can call. Each mirrors a CPU op in trainer/model/gpt_ops.h or
// trainer/model/optimizer.h; shapes are in the comments, row-major, N = B·T rows.
//
// Precision: activations are bf16, every reduction (LayerNorm statistics, softmax, attention's
// online softmax, bias and gain gradients, the gradient norm) runs in fp32 (or fp64 for the norm),
// master weights, gradients and AdamW moments are fp32. Every launch is asynchronous on `stream`;
// a launcher returns the launch error (cudaGetLastError), not the kernel's outcome.
//
// Determinism: no kernel uses atomics; every sum over rows goes through fixed-size partial sums
// added in a fixed order, so two runs with the same inputs give the same bits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

struct __nv_bfloat16;  // cuda_bf16.h; only pointers cross this header

namespace winnow::trainer::cuda {

using bf16 = __nv_bfloat16;

// ---- conversions -------------------------------------------------------------------------------

// out[i] = bf16(in[i])   in (n) fp32, out (n) bf16
cudaError_t ConvertToBf16(bf16* out, const float* in, size_t n, cudaStream_t stream);
// out[i] = float(in[i])  in (n) bf16, out (n) fp32
cudaError_t ConvertToFloat(float* out, const bf16* in, size_t n, cudaStream_t stream);

// ---- encoder -----------------------------------------------------------------------------------

// out[b,t,:] = bf16(wte[tokens[b,t],:] + wpe[t,:])   tokens (B,T), wte (Vp,C) fp32, wpe (maxT,C)
// fp32, out (B,T,C) bf16.
cudaError_t EncoderForward(bf16* out, const int* tokens, const float* wte, const float* wpe, int B,
                           int T, int C, cudaStream_t stream);
// dwpe[t,:] += Σ_b dout[b,t,:];  dwte[v,:] += Σ_{positions p with token v} dout[p,:].
// The scatter over tokens is given as CSR built on the host: for u < num_unique, token
// unique_tokens[u] occurs at the positions positions[offsets[u] … offsets[u+1]) (in increasing
// order, so the sum's order is fixed). dout (B,T,C) fp32, dwte (Vp,C), dwpe (maxT,C) fp32.
cudaError_t EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* unique_tokens,
                            const int* offsets, const int* positions, int num_unique, int B, int T,
                            int C, cudaStream_t stream);

// ---- LayerNorm ---------------------------------------------------------------------------------

// out = (inp − mean)·rstd·weight + bias per row of C, eps 1e-5; inp, out (N,C) bf16; weight, bias
// (C) fp32; mean, rstd (N) fp32 kept for the backward pass.
cudaError_t LayerNormForward(bf16* out, float* mean, float* rstd, const bf16* inp,
                             const float* weight, const float* bias, int N, int C,
                             cudaStream_t stream);
// The residual add fused with the LayerNorm that follows it:
//   residual = bf16(a + b);  out = LayerNorm(residual)      a, b, residual, out (N,C) bf16
cudaError_t ResidualLayerNormForward(bf16* residual, bf16* out, float* mean, float* rstd,
                                     const bf16* a, const bf16* b, const float* weight,
                                     const float* bias, int N, int C, cudaStream_t stream);
// dresidual += d(inp), and dresidual_bf16 = bf16(dresidual) (the copy the next matmul reads);
// dweight += Σ_n x̂·dout, dbias += Σ_n dout.   dout, inp (N,C) bf16; dresidual (N,C) fp32;
// weight, dweight, dbias (C) fp32; mean, rstd (N). scratch: ColumnSumScratchFloats(N, C) · 2
// floats.
cudaError_t LayerNormBackward(float* dresidual, bf16* dresidual_bf16, float* dweight, float* dbias,
                              const bf16* dout, const bf16* inp, const float* weight,
                              const float* mean, const float* rstd, float* scratch, int N, int C,
                              cudaStream_t stream);

// ---- matmul helpers (the matmuls themselves are cuBLASLt, internal/matmul.h) --------------------

// Floats of scratch a column sum over N rows of C columns needs (partial sums per row chunk).
size_t ColumnSumScratchFloats(int N, int C);
// dbias[o] += Σ_n dout[n,o]   dout (N,OC) bf16, dbias (OC) fp32; scratch as above.
cudaError_t BiasBackward(float* dbias, const bf16* dout, float* scratch, int N, int OC,
                         cudaStream_t stream);

// ---- GELU --------------------------------------------------------------------------------------

// out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   inp, out (n) bf16
cudaError_t GeluForward(bf16* out, const bf16* inp, size_t n, cudaStream_t stream);
// dinp = gelu'(inp)·dout (written, not accumulated; dinp may alias dout)   (n) bf16
cudaError_t GeluBackward(bf16* dinp, const bf16* inp, const bf16* dout, size_t n,
                         cudaStream_t stream);

// ---- attention ---------------------------------------------------------------------------------

// Head sizes the attention kernels are compiled for.
bool AttentionSupportsHeadSize(int hs);

// doc_start[b,t] = the last position s ≤ t of row b with tokens[b,s] == eot, 0 if none; all 0
// when eot < 0 (plain causal attention).   tokens, doc_start (B,T)
cudaError_t DocumentStarts(int* doc_start, const int* tokens, int eot, int B, int T,
                           cudaStream_t stream);

// Flash-style causal self-attention: position t of row b attends to doc_start[b,t] ≤ s ≤ t.
// qkv (B,T,3C) bf16 holds [q | k | v] per position, each C = NH·hs; out (B,T,C) bf16;
// lse (B,NH,T) fp32 receives each query's log Σ exp(score) for the backward pass. No (T,T)
// matrix is stored: keys come in tiles through shared memory with an online softmax.
cudaError_t AttentionForward(bf16* out, float* lse, const bf16* qkv, const int* doc_start, int B,
                             int T, int C, int NH, cudaStream_t stream);
// dqkv (B,T,3C) bf16 is written (not accumulated) from dout (B,T,C) bf16, recomputing the
// probabilities from qkv and lse. scratch: B·NH·T floats (rows of Σ dout·out).
cudaError_t AttentionBackward(bf16* dqkv, const bf16* dout, const bf16* qkv, const bf16* out,
                              const float* lse, const int* doc_start, float* scratch, int B, int T,
                              int C, int NH, cudaStream_t stream);

// ---- softmax + cross-entropy -------------------------------------------------------------------

// Over the first V of Vp logits per row, never materialising the probabilities:
// lse[n] = log Σ_{v<V} exp(logits[n,v]);  losses[n] = lse[n] − logits[n,targets[n]], 0 where
// targets[n] = −1.   logits (N,Vp) bf16; targets, lse, losses (N).
cudaError_t CrossEntropyForward(float* losses, float* lse, const bf16* logits, const int* targets,
                                int N, int V, int Vp, cudaStream_t stream);
// In place: logits[n,v] becomes dloss·(softmax[n,v] − [v == target]) for v < V and 0 for v ≥ V;
// rows with target −1 become all 0.   logits (N,Vp) bf16
cudaError_t CrossEntropyBackward(bf16* logits, const float* lse, const int* targets, float dloss,
                                 int N, int V, int Vp, cudaStream_t stream);

// ---- optimizer ---------------------------------------------------------------------------------

// Blocks of partial sums the gradient norm uses (fixed: independent of the device).
constexpr int kGradNormBlocks = 512;
// out[0] = Σ g² over (n) fp32 grads, in fp64 with a fixed reduction order. scratch:
// kGradNormBlocks doubles; out: one double on the device.
cudaError_t SumOfSquares(double* out, const float* grads, size_t n, double* scratch,
                         cudaStream_t stream);

// AdamW on one tensor, the update of trainer/model/optimizer.h with g = grads[i]·grad_scale:
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr · ((m/correction1) / (√(v/correction2) + eps) + weight_decay·p);  params_bf16 = bf16(p)
// params, grads, m, v (n) fp32, params_bf16 (n) bf16.
struct AdamWArgs {
  float learning_rate;
  float beta1, beta2, eps;
  float weight_decay;  // 0 for tensors that are not decayed
  float correction1;   // 1 − β1^t
  float correction2;   // 1 − β2^t
  float grad_scale;    // e.g. 1/grad_accum times the clip factor
};
cudaError_t AdamW(float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                  size_t n, const AdamWArgs& args, cudaStream_t stream);

}  // namespace winnow::trainer::cuda
