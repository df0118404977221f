// trainer/model/sampler.h — text generation from a GPT (gpt.h) with the KV cache (inference.h):
// greedy, temperature / top-k / top-p sampling, and beam search. Works on token ids; the caller
// encodes and decodes (tokenizer.h).
//
//   SampleOptions options;
//   options.temperature = 0.8;
//   options.top_k = 40;
//   Generation out = *Generate(model, prompt_ids, eot, options);   // out.tokens: the new ids
//
// Sampling procedure (fixed, so a seed gives the same tokens on every platform):
//   1. temperature == 0: greedy — the arg-max logit, the lowest id on ties. No random numbers.
//   2. otherwise the ids are ordered by logit, highest first (lower id first on ties) and
//      each logit divided by the temperature;
//   3. top_k > 0 keeps the first top_k of them;
//   4. the softmax (in double) over those kept; top_p < 1 then keeps the shortest prefix whose
//      cumulative probability is ≥ top_p (at least one id), and renormalises;
//   5. one draw from a std::mt19937_64 seeded with `seed`: u = (draw >> 11) · 2⁻⁵³ ∈ [0, 1); the
//      chosen id is the first in that order whose cumulative probability exceeds u (the last kept
//      id if rounding leaves none). Exactly one draw per generated token.
//
// Beam search (beam > 1) ignores temperature, top_k, top_p and seed. It keeps `beam` sequences,
// each with its own KV cache (copied when a beam is expanded into several children). A sequence's
// score is the PLAIN SUM of the log-probabilities (softmax at temperature 1) of its generated
// tokens, including a final end-of-text; no length normalisation. Each step every live beam
// proposes its `beam` best next tokens; the `beam` best proposals overall (ties: earlier beam,
// then lower id) are taken in order, an end-of-text one finishing its sequence and the rest
// staying live. The search ends at max_tokens, when no beam is live, or when the best finished
// score is ≥ every live score (a plain sum can only fall); the best finished or live sequence wins.
//
// Generation also stops when the context is full: the last token generated is the one predicted
// from max_seq_len tokens (so prompt + generated ≤ max_seq_len + 1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/gpt.h"

namespace winnow::trainer {

struct SampleOptions {
  double temperature = 1.0;  // 0: greedy
  int top_k = 0;             // 0: off
  double top_p = 1.0;        // 1: off
  int max_tokens = 64;       // the most tokens generated
  uint64_t seed = 0;         // for std::mt19937_64
  int beam = 1;              // 1: off (sample / greedy); > 1: beam search with that width
  bool stop_at_eot = true;   // stop when end-of-text is generated (not included in tokens)
};

struct Generation {
  std::vector<int> tokens;  // the generated ids, without the prompt and without a final eot
  bool stopped_at_eot = false;
  // Σ log p(token) at temperature 1 over `tokens` and, when stopped_at_eot, the eot too.
  double log_prob = 0;
};

// Continues `prompt` (1 … max_seq_len ids < vocab_size). eot < 0: there is no end-of-text.
// InvalidArgument for a bad prompt or options (temperature < 0, top_k < 0, top_p ∉ (0, 1],
// max_tokens < 0, beam < 1).
absl::StatusOr<Generation> Generate(const Gpt& model, std::span<const int> prompt, int eot,
                                    const SampleOptions& options);

// log softmax of `logits` (computed in double).
std::vector<double> LogSoftmax(std::span<const float> logits);

// The id chosen from `logits` by steps 1–5 above, `draw` being step 5's raw mt19937_64 output
// (unused when temperature == 0).
int SampleToken(std::span<const float> logits, const SampleOptions& options, uint64_t draw);

}  // namespace winnow::trainer
