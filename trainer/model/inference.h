// trainer/model/inference.h — incremental (KV-cache) inference with the fp32 CPU GPT (gpt.h).
//
//   KvCache cache(model.config());
//   Logits next = *Prefill(model, &cache, prompt);   // logits for the token after the prompt
//   next = *Step(model, &cache, chosen_token);       // one more position
//
// A KvCache holds one sequence: for every layer the keys and values (max_seq_len × C each) of the
// positions seen so far. Several sequences (e.g. the beams of a beam search) use one cache each;
// a cache is a plain value, so copying it forks the sequence. Each call runs the new tokens through
// the same layers as Gpt::Forward (gpt_ops.h), attending to the cached positions, and returns the
// logits of the last new position over the real vocabulary (vocab_size, no padding). Up to float
// rounding they equal Gpt::Forward's logits at that position, document mask included: when the
// model has one (Gpt::SetDocumentMask), a position attends only to the cached positions from the
// last end-of-text token on, so a prompt may hold several documents and sampling past an
// end-of-text token starts a fresh one.
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/gpt.h"
#include "trainer/model/gpt_config.h"

namespace winnow::trainer {

// Next-token logits: vocab_size floats.
using Logits = std::vector<float>;

class KvCache {
 public:
  explicit KvCache(const GptConfig& config);

  // Positions filled so far: the next token goes at position pos().
  int pos() const { return pos_; }
  // Positions it can hold: the model's max_seq_len.
  int capacity() const { return max_seq_len_; }
  // Forgets every position (keeps the memory).
  void Reset() {
    pos_ = 0;
    doc_start_ = 0;
  }

  // The key / value vector (C floats, heads side by side) of `layer` at position t.
  float* key(int layer, int t) { return keys_.data() + Offset(layer, t); }
  float* value(int layer, int t) { return values_.data() + Offset(layer, t); }
  const float* key(int layer, int t) const { return keys_.data() + Offset(layer, t); }
  const float* value(int layer, int t) const { return values_.data() + Offset(layer, t); }

 private:
  friend absl::StatusOr<Logits> Prefill(const Gpt&, KvCache*, std::span<const int>);
  size_t Offset(int layer, int t) const {
    return (static_cast<size_t>(layer) * max_seq_len_ + t) * channels_;
  }

  int num_layers_;
  int max_seq_len_;
  int channels_;
  int pos_ = 0;
  int doc_start_ = 0;          // where the document of the next position begins (document mask)
  std::vector<float> keys_;    // (L, maxT, C)
  std::vector<float> values_;  // (L, maxT, C)
};

// Runs `tokens` (at least one, ids < vocab_size) at positions cache->pos() … and appends them to
// the cache; returns the logits for the token after the last of them. InvalidArgument for an empty
// list, a bad id or a cache made for another shape; OutOfRange when the tokens do not fit in the
// context (the cache is then unchanged).
absl::StatusOr<Logits> Prefill(const Gpt& model, KvCache* cache, std::span<const int> tokens);

// One token: Prefill of a single id.
absl::StatusOr<Logits> Step(const Gpt& model, KvCache* cache, int token);

}  // namespace winnow::trainer
