#include "trainer/model/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "trainer/model/inference.h"

namespace winnow::trainer {

std::vector<double> LogSoftmax(std::span<const float> logits) {
  double max_logit = -std::numeric_limits<double>::infinity();
  for (float x : logits) max_logit = std::max(max_logit, static_cast<double>(x));
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max_logit);
  const double lse = max_logit + std::log(sum);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); i++) out[i] = logits[i] - lse;
  return out;
}

namespace {

int ArgMax(std::span<const float> logits) {
  // std::max_element returns the first of equal maxima: the lowest id.
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Ids ordered by value, highest first, lower id first on ties.
template <typename T>
std::vector<int> OrderByValue(std::span<const T> values) {
  std::vector<int> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[a] > values[b]; });
  return order;
}

absl::Status ValidateOptions(const SampleOptions& o) {
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature)) {
    return absl::InvalidArgumentError(absl::StrCat("temperature must be ≥ 0, got ", o.temperature));
  }
  if (o.top_k < 0) return absl::InvalidArgumentError(absl::StrCat("top_k must be ≥ 0: ", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", o.top_p));
  }
  if (o.max_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_tokens must be ≥ 0: ", o.max_tokens));
  }
  if (o.beam < 1) return absl::InvalidArgumentError(absl::StrCat("beam must be ≥ 1: ", o.beam));
  return absl::OkStatus();
}

// Greedy or sampled decoding of one sequence.
absl::StatusOr<Generation> SampleLoop(const Gpt& model, std::span<const int> prompt, int eot,
                                      const SampleOptions& options) {
  Generation out;
  KvCache cache(model.config());
  absl::StatusOr<Logits> logits = Prefill(model, &cache, prompt);
  if (!logits.ok()) return logits.status();
  std::mt19937_64 rng(options.seed);
  while (static_cast<int>(out.tokens.size()) < options.max_tokens) {
    const uint64_t draw = options.temperature == 0 ? 0 : rng();
    const int token = SampleToken(*logits, options, draw);
    out.log_prob += LogSoftmax(*logits)[token];
    if (options.stop_at_eot && token == eot) {
      out.stopped_at_eot = true;
      break;
    }
    out.tokens.push_back(token);
    if (static_cast<int>(out.tokens.size()) == options.max_tokens) break;
    if (cache.pos() == cache.capacity()) break;  // context full
    logits = Step(model, &cache, token);
    if (!logits.ok()) return logits.status();
  }
  return out;
}

struct Beam {
  std::vector<int> tokens;
  double score = 0;
  KvCache cache;
  Logits logits;  // for the token after `tokens`
};

struct Proposal {
  double score;
  int beam;
  int token;
};

absl::StatusOr<Generation> BeamSearch(const Gpt& model, std::span<const int> prompt, int eot,
                                      const SampleOptions& options) {
  const int width = options.beam;
  std::vector<Beam> live;
  {
    Beam first{{}, 0, KvCache(model.config()), {}};
    absl::StatusOr<Logits> logits = Prefill(model, &first.cache, prompt);
    if (!logits.ok()) return logits.status();
    first.logits = *std::move(logits);
    live.push_back(std::move(first));
  }
  std::optional<Generation> best_finished;

  for (int step = 0; step < options.max_tokens && !live.empty(); step++) {
    // Every live beam proposes its `width` best next tokens.
    std::vector<Proposal> proposals;
    std::vector<std::vector<double>> log_probs(live.size());
    for (size_t b = 0; b < live.size(); b++) {
      log_probs[b] = LogSoftmax(live[b].logits);
      const std::vector<int> order = OrderByValue<double>(log_probs[b]);
      for (int i = 0; i < width && i < static_cast<int>(order.size()); i++) {
        proposals.push_back(
            {live[b].score + log_probs[b][order[i]], static_cast<int>(b), order[i]});
      }
    }
    std::stable_sort(proposals.begin(), proposals.end(),
                     [](const Proposal& a, const Proposal& b) { return a.score > b.score; });
    if (static_cast<int>(proposals.size()) > width) proposals.resize(width);

    // How many children each beam gets: the last child takes the parent's cache, the others copy.
    std::vector<int> children(live.size(), 0);
    for (const Proposal& p : proposals) {
      if (!(options.stop_at_eot && p.token == eot)) children[p.beam]++;
    }
    const bool last_step = step + 1 == options.max_tokens;
    std::vector<Beam> next;
    for (const Proposal& p : proposals) {
      Beam& parent = live[p.beam];
      if (options.stop_at_eot && p.token == eot) {
        if (!best_finished || p.score > best_finished->log_prob) {
          best_finished = Generation{parent.tokens, true, p.score};
        }
        continue;
      }
      std::vector<int> tokens = parent.tokens;
      tokens.push_back(p.token);
      // Copy on expand: every child but the parent's last one gets a copy of its cache.
      const bool last_child = --children[p.beam] == 0;
      Beam child{std::move(tokens),
                 p.score,
                 last_child ? KvCache(std::move(parent.cache)) : KvCache(parent.cache),
                 {}};
      if (!last_step && child.cache.pos() < child.cache.capacity()) {
        absl::StatusOr<Logits> logits = Step(model, &child.cache, p.token);
        if (!logits.ok()) return logits.status();
        child.logits = *std::move(logits);
      }
      next.push_back(std::move(child));
    }
    live = std::move(next);
    if (live.empty()) break;
    // A plain sum only falls: once the best finished sequence beats every live one, it has won.
    double best_live = -std::numeric_limits<double>::infinity();
    for (const Beam& b : live) best_live = std::max(best_live, b.score);
    if (best_finished && best_finished->log_prob >= best_live) break;
    // Context full: no beam can grow.
    if (live.front().cache.pos() == live.front().cache.capacity() && live.front().logits.empty()) {
      break;
    }
  }

  Generation result;
  bool have = false;
  if (best_finished) {
    result = *best_finished;
    have = true;
  }
  for (Beam& b : live) {  // in score order: the first beats later equal ones
    if (!have || b.score > result.log_prob) {
      result = Generation{b.tokens, false, b.score};
      have = true;
    }
  }
  return result;
}

}  // namespace

int SampleToken(std::span<const float> logits, const SampleOptions& options, uint64_t draw) {
  if (options.temperature == 0) return ArgMax(logits);
  const std::vector<int> order = OrderByValue<float>(logits);
  size_t kept = order.size();
  if (options.top_k > 0) kept = std::min(kept, static_cast<size_t>(options.top_k));
  // Softmax over the kept ids at this temperature (they are in order, so order[0] is the max).
  std::vector<double> probs(kept);
  const double max_logit = logits[order[0]] / options.temperature;
  double sum = 0;
  for (size_t i = 0; i < kept; i++) {
    probs[i] = std::exp(logits[order[i]] / options.temperature - max_logit);
    sum += probs[i];
  }
  for (double& p : probs) p /= sum;
  if (options.top_p < 1) {
    double cumulative = 0;
    size_t nucleus = 0;
    while (nucleus < kept) {
      cumulative += probs[nucleus++];
      if (cumulative >= options.top_p) break;
    }
    kept = nucleus;
    for (size_t i = 0; i < kept; i++) probs[i] /= cumulative;
  }
  const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;
  double cumulative = 0;
  for (size_t i = 0; i < kept; i++) {
    cumulative += probs[i];
    if (cumulative > u) return order[i];
  }
  return order[kept - 1];
}

absl::StatusOr<Generation> Generate(const Gpt& model, std::span<const int> prompt, int eot,
                                    const SampleOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt is empty");
  if (static_cast<int>(prompt.size()) > model.config().max_seq_len) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt has ", prompt.size(),
                                                   " tokens, more than the context of ",
                                                   model.config().max_seq_len));
  }
  return options.beam > 1 ? BeamSearch(model, prompt, eot, options)
                          : SampleLoop(model, prompt, eot, options);
}

}  // namespace winnow::trainer
