// trainer/model/gpt_ops.h — the layers of GPT-2 as plain fp32 CPU functions (llm.c's train_gpt2.c).
//
// Each layer is a forward function and a backward function; shapes are in the comments, row-major,
// N = B·T rows. Backward functions ACCUMULATE (+=) into every gradient they write, so the caller
// zeroes what must start from zero. Work is split with oneTBB over rows, (batch, head) pairs or
// output channels such that every output element is computed by one task in a fixed order: the
// results are bit-identical whatever the number of threads. These are the reference that the CUDA
// kernels are tested against.
#pragma once

namespace winnow::trainer::cpu {

// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]     tokens (B,T), wte (Vp,C), wpe (maxT,C), out
// (B,T,C)
void EncoderForward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T,
                    int C);
// dwte[tokens[b,t],:] += dout[b,t,:];  dwpe[t,:] += dout[b,t,:]
void EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T,
                     int C);

// out = (inp − mean) · rstd · weight + bias over each row of C; eps 1e-5.
// inp, out (N,C); weight, bias (C); mean, rstd (N) are kept for the backward pass.
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C);
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int N, int C);

// out[n,:] = inp[n,:] @ weight^T + bias     inp (N,C), weight (OC,C), bias (OC) or null, out (N,OC)
void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N,
                   int C, int OC);
// dinp += dout @ weight;  dweight += dout^T @ inp;  dbias += Σ_n dout  (dbias may be null)
void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC);

// Causal multi-head self-attention.   qkv (B,T,3C) holds [q | k | v] per position, each C = NH·hs;
// att (B,NH,T,T) receives the softmax probabilities (zero outside the attended span), out (B,T,C).
// Position t attends to the span s0 ≤ t2 ≤ t, where s0 = doc_start[b,t] (doc_start (B,T), see
// DocumentStarts) or 0 when doc_start is null (plain causal):
// att[b,h,t,t2] = softmax_{s0 ≤ t2 ≤ t}(q_t · k_t2 / √hs);  out[b,t,h·hs:] = Σ_t2 att[b,h,t,t2]
// v_t2. The backward pass takes the same doc_start; entries outside the span get no gradient.
void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH,
                      const int* doc_start = nullptr);
void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att, int B,
                       int T, int C, int NH, const int* doc_start = nullptr);

// Document masking of packed rows: doc_start[b,t] = the last s ≤ t with tokens[b,s] == eot_token,
// or 0 if there is none. An end-of-text token thus begins the document that follows it (and sees
// only itself).   tokens, doc_start (B,T)
void DocumentStarts(int* doc_start, const int* tokens, int B, int T, int eot_token);

// GELU, tanh approximation (GPT-2's gelu_new): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
void GeluForward(float* out, const float* inp, int n);
void GeluBackward(float* dinp, const float* inp, const float* dout, int n);

// out = a + b (the residual stream). Its backward passes dout unchanged to both inputs.
void ResidualForward(float* out, const float* a, const float* b, int n);

// Softmax over the first V of Vp logits fused with cross-entropy.   logits (N,Vp), targets (N),
// lse (N) receives log Σ_{v<V} exp(logits[n,v]), losses (N) receives lse − logits[n,target]
// (0 where target is −1: ignored).
void CrossEntropyForward(float* losses, float* lse, const float* logits, const int* targets, int N,
                         int V, int Vp);
// dlogits[n,v] += dloss · (softmax[n,v] − [v == target]) for v < V on rows whose target ≠ −1;
// columns ≥ V get no gradient. dloss is d(loss)/d(losses[n]), e.g. 1/(counted rows).
void CrossEntropyBackward(float* dlogits, const float* logits, const float* lse, const int* targets,
                          float dloss, int N, int V, int Vp);

}  // namespace winnow::trainer::cpu
