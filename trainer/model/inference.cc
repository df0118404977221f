#include "trainer/model/inference.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "trainer/model/gpt_ops.h"

namespace winnow::trainer {

KvCache::KvCache(const GptConfig& config)
    : num_layers_(config.num_layers),
      max_seq_len_(config.max_seq_len),
      channels_(config.channels),
      keys_(static_cast<size_t>(config.num_layers) * config.max_seq_len * config.channels),
      values_(keys_.size()) {}

namespace {

// Causal attention of n new positions p0 … p0+n−1 over the cached keys and values of positions
// 0 … p0+n−1 (the new ones already stored); new position p0+i attends from doc_start[i] on (0 for
// plain causal attention). q (n, C) holds the queries, out (n, C) receives the attention output,
// heads side by side — the same arithmetic as cpu::AttentionForward.
void CachedAttention(float* out, const float* q, const KvCache& cache, int layer, int p0, int n,
                     const int* doc_start, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  std::vector<float> scores(static_cast<size_t>(p0) + n);
  for (int i = 0; i < n; i++) {
    const int t = p0 + i, s0 = doc_start[i];
    for (int h = 0; h < NH; h++) {
      const float* qh = q + static_cast<size_t>(i) * C + static_cast<size_t>(h) * hs;
      float max_score = -std::numeric_limits<float>::infinity();
      for (int t2 = s0; t2 <= t; t2++) {
        const float* k = cache.key(layer, t2) + static_cast<size_t>(h) * hs;
        float dot = 0;
        for (int j = 0; j < hs; j++) dot += qh[j] * k[j];
        scores[t2] = dot * scale;
        max_score = std::max(max_score, scores[t2]);
      }
      float sum = 0;
      for (int t2 = s0; t2 <= t; t2++) {
        scores[t2] = std::exp(scores[t2] - max_score);
        sum += scores[t2];
      }
      const float inv_sum = 1.0f / sum;
      float* o = out + static_cast<size_t>(i) * C + static_cast<size_t>(h) * hs;
      std::fill(o, o + hs, 0.0f);
      for (int t2 = s0; t2 <= t; t2++) {
        const float a = scores[t2] * inv_sum;
        const float* v = cache.value(layer, t2) + static_cast<size_t>(h) * hs;
        for (int j = 0; j < hs; j++) o[j] += a * v[j];
      }
    }
  }
}

}  // namespace

absl::StatusOr<Logits> Prefill(const Gpt& model, KvCache* cache, std::span<const int> tokens) {
  const GptConfig& cfg = model.config();
  const int L = cfg.num_layers, C = cfg.channels, NH = cfg.num_heads, V = cfg.vocab_size;
  if (cache == nullptr || cache->num_layers_ != L || cache->max_seq_len_ != cfg.max_seq_len ||
      cache->channels_ != C) {
    return absl::InvalidArgumentError("KV cache does not match the model's shape");
  }
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to run");
  for (int token : tokens) {
    if (token < 0 || token >= V) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", token, " is outside the vocabulary [0, ", V, ")"));
    }
  }
  const int p0 = cache->pos_;
  const int n = static_cast<int>(tokens.size());
  if (n > cfg.max_seq_len - p0) {
    return absl::OutOfRangeError(absl::StrCat("context full: ", p0, " + ", n,
                                              " tokens exceed max_seq_len ", cfg.max_seq_len));
  }

  // The parameters are only read; GptTensorViews hands out mutable views.
  const GptTensors w = GptTensorViews(cfg, const_cast<float*>(model.params().data()));
  const size_t nC = static_cast<size_t>(n) * C;
  std::vector<float> x(nC), x2(nC), ln(nC), att(nC), proj(nC), mean(n), rstd(n);
  std::vector<float> q(nC), qkv(3 * nC), fc(4 * nC), gelu(4 * nC);

  // Where each new position's document begins: at the last end-of-text token so far when the model
  // masks documents (as cpu::DocumentStarts does for a whole row), else at 0.
  const int eot = model.document_mask_eot();
  std::vector<int> doc_start(n);
  for (int i = 0, start = cache->doc_start_; i < n; i++) {
    if (eot >= 0 && tokens[i] == eot) start = p0 + i;
    doc_start[i] = start;
  }

  // Token + position embeddings; the position table starts at p0.
  cpu::EncoderForward(x.data(), tokens.data(), w.wte, w.wpe + static_cast<size_t>(p0) * C, 1, n, C);
  for (int l = 0; l < L; l++) {
    const size_t lC = static_cast<size_t>(l) * C;
    // Attention block: x2 = x + attproj(attention(ln1(x))).
    cpu::LayerNormForward(ln.data(), mean.data(), rstd.data(), x.data(), w.ln1w + lC, w.ln1b + lC,
                          n, C);
    cpu::MatmulForward(qkv.data(), ln.data(), w.qkvw + 3 * lC * C, w.qkvb + 3 * lC, n, C, 3 * C);
    for (int i = 0; i < n; i++) {
      const float* row = qkv.data() + static_cast<size_t>(i) * 3 * C;
      std::copy(row, row + C, q.data() + static_cast<size_t>(i) * C);
      std::copy(row + C, row + 2 * C, cache->key(l, p0 + i));
      std::copy(row + 2 * C, row + 3 * C, cache->value(l, p0 + i));
    }
    CachedAttention(att.data(), q.data(), *cache, l, p0, n, doc_start.data(), C, NH);
    cpu::MatmulForward(proj.data(), att.data(), w.attprojw + lC * C, w.attprojb + lC, n, C, C);
    cpu::ResidualForward(x2.data(), x.data(), proj.data(), static_cast<int>(nC));
    // MLP block: x = x2 + fcproj(gelu(fc(ln2(x2)))).
    cpu::LayerNormForward(ln.data(), mean.data(), rstd.data(), x2.data(), w.ln2w + lC, w.ln2b + lC,
                          n, C);
    cpu::MatmulForward(fc.data(), ln.data(), w.fcw + 4 * lC * C, w.fcb + 4 * lC, n, C, 4 * C);
    cpu::GeluForward(gelu.data(), fc.data(), static_cast<int>(4 * nC));
    cpu::MatmulForward(proj.data(), gelu.data(), w.fcprojw + 4 * lC * C, w.fcprojb + lC, n, 4 * C,
                       C);
    cpu::ResidualForward(x.data(), x2.data(), proj.data(), static_cast<int>(nC));
  }
  cache->pos_ = p0 + n;
  cache->doc_start_ = doc_start.back();

  // Only the last position's logits are needed: final LayerNorm, then the tied LM head over the
  // first V rows of wte (the padding rows are not part of the distribution).
  const float* last = x.data() + static_cast<size_t>(n - 1) * C;
  cpu::LayerNormForward(ln.data(), mean.data(), rstd.data(), last, w.lnfw, w.lnfb, 1, C);
  Logits logits(V);
  cpu::MatmulForward(logits.data(), ln.data(), w.wte, nullptr, 1, C, V);
  return logits;
}

absl::StatusOr<Logits> Step(const Gpt& model, KvCache* cache, int token) {
  return Prefill(model, cache, std::span<const int>(&token, 1));
}

}  // namespace winnow::trainer
