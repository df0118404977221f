// KV-cache inference and generation (trainer/model/inference.h, sampler.h) on small random-init
// models: cached logits against the full Forward (also with a document mask), greedy against
// arg-max re-runs, the sampling filters, seeded reproducibility, beam search against greedy, and
// the stopping rules.
#include "trainer/model/inference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "trainer/model/gpt.h"
#include "trainer/model/sampler.h"

namespace winnow::trainer {
namespace {

GptConfig SmallConfig() {
  GptConfig config;
  config.vocab_size = 97;  // not a multiple of 128: the padding must stay out of the logits
  config.padded_vocab_size = 128;
  config.max_seq_len = 24;
  config.num_layers = 2;
  config.num_heads = 4;
  config.channels = 32;
  return config;
}

// A random-init model; `scale` > 1 multiplies every parameter, for sharper, more varied
// distributions than GPT-2's near-uniform initialisation.
Gpt MakeModel(uint64_t seed, float scale = 1.0f) {
  absl::StatusOr<Gpt> model = Gpt::Create(SmallConfig(), seed);
  EXPECT_TRUE(model.ok()) << model.status();
  for (float& p : model->params()) p *= scale;
  return std::move(*model);
}

std::vector<int> RandomIds(int n, int vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> id(0, vocab - 1);
  std::vector<int> ids(n);
  for (int& x : ids) x = id(gen);
  return ids;
}

// The full Forward's logits (first V of each row) for `tokens` as one sequence.
std::vector<std::vector<float>> FullLogits(Gpt& model, const std::vector<int>& tokens) {
  const int T = static_cast<int>(tokens.size());
  const int V = model.config().vocab_size, Vp = model.config().padded_vocab_size;
  EXPECT_TRUE(model.Forward(tokens, {}, 1, T).ok());
  std::vector<std::vector<float>> rows(T);
  for (int t = 0; t < T; t++) {
    const float* row = model.logits().data() + static_cast<size_t>(t) * Vp;
    rows[t].assign(row, row + V);
  }
  return rows;
}

// Σ log p(continuation | prompt, earlier continuation) from the full Forward.
double SequenceLogProb(Gpt& model, const std::vector<int>& prompt,
                       const std::vector<int>& continuation) {
  std::vector<int> all = prompt;
  all.insert(all.end(), continuation.begin(), continuation.end());
  const std::vector<std::vector<float>> rows = FullLogits(model, all);
  double sum = 0;
  for (size_t i = 0; i < continuation.size(); i++) {
    sum += LogSoftmax(rows[prompt.size() + i - 1])[continuation[i]];
  }
  return sum;
}

float MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float diff = 0;
  for (size_t i = 0; i < a.size(); i++) diff = std::max(diff, std::abs(a[i] - b[i]));
  return diff;
}

SampleOptions Greedy(int max_tokens) {
  SampleOptions options;
  options.temperature = 0;
  options.max_tokens = max_tokens;
  options.stop_at_eot = false;
  return options;
}

TEST(KvCacheTest, StepLogitsMatchFullForwardAtEveryPosition) {
  for (float scale : {1.0f, 4.0f}) {
    Gpt model = MakeModel(7, scale);
    const int T = model.config().max_seq_len;
    const std::vector<int> tokens = RandomIds(T, model.config().vocab_size, 11);
    const std::vector<std::vector<float>> full = FullLogits(model, tokens);

    KvCache cache(model.config());
    for (int t = 0; t < T; t++) {
      absl::StatusOr<Logits> logits = Step(model, &cache, tokens[t]);
      ASSERT_TRUE(logits.ok()) << logits.status();
      ASSERT_EQ(logits->size(), static_cast<size_t>(model.config().vocab_size));
      EXPECT_LT(MaxAbsDiff(*logits, full[t]), 1e-4f) << "scale " << scale << " position " << t;
      EXPECT_EQ(cache.pos(), t + 1);
    }
    // The context is full now.
    EXPECT_EQ(Step(model, &cache, 0).status().code(), absl::StatusCode::kOutOfRange);
  }
}

TEST(KvCacheTest, PrefillInChunksMatchesFullForward) {
  Gpt model = MakeModel(8, 4.0f);
  const std::vector<int> tokens = RandomIds(20, model.config().vocab_size, 12);
  const std::vector<std::vector<float>> full = FullLogits(model, tokens);
  KvCache cache(model.config());
  std::span<const int> all(tokens);
  absl::StatusOr<Logits> a = Prefill(model, &cache, all.subspan(0, 7));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_LT(MaxAbsDiff(*a, full[6]), 1e-4f);
  absl::StatusOr<Logits> b = Prefill(model, &cache, all.subspan(7));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_LT(MaxAbsDiff(*b, full[19]), 1e-4f);
  // A copy forks the sequence.
  KvCache fork = cache;
  absl::StatusOr<Logits> c1 = Step(model, &cache, 3);
  absl::StatusOr<Logits> c2 = Step(model, &fork, 3);
  ASSERT_TRUE(c1.ok() && c2.ok());
  EXPECT_EQ(*c1, *c2);
}

// With a document mask the cache attends from the last end-of-text token on, as Forward does:
// in one chunk, in pieces that split a document, and one token at a time; after Reset, an eot seen
// before is forgotten.
TEST(KvCacheTest, DocumentMaskMatchesFullForward) {
  Gpt model = MakeModel(9, 4.0f);
  const int eot = 96;
  model.SetDocumentMask(eot);
  std::vector<int> tokens = RandomIds(20, eot, 13);  // ids < eot
  tokens[0] = tokens[5] = tokens[6] = tokens[13] = eot;
  const std::vector<std::vector<float>> full = FullLogits(model, tokens);
  std::span<const int> all(tokens);
  for (size_t split : {size_t{20}, size_t{9}, size_t{13}}) {
    KvCache cache(model.config());
    absl::StatusOr<Logits> a = Prefill(model, &cache, all.subspan(0, split));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_LT(MaxAbsDiff(*a, full[split - 1]), 1e-4f) << "split " << split;
    if (split == 20) continue;
    absl::StatusOr<Logits> b = Prefill(model, &cache, all.subspan(split));
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_LT(MaxAbsDiff(*b, full[19]), 1e-4f) << "split " << split;
  }
  KvCache cache(model.config());
  for (int t = 0; t < 20; t++) {
    absl::StatusOr<Logits> logits = Step(model, &cache, tokens[t]);
    ASSERT_TRUE(logits.ok()) << logits.status();
    EXPECT_LT(MaxAbsDiff(*logits, full[t]), 1e-4f) << "position " << t;
  }
  // The masked logits differ from plain causal ones after the second document begins.
  model.SetDocumentMask(-1);
  EXPECT_GT(MaxAbsDiff(full[19], FullLogits(model, tokens)[19]), 1e-3f);
  model.SetDocumentMask(eot);
  cache.Reset();
  const std::vector<int> tail(tokens.begin() + 14, tokens.end());
  const std::vector<std::vector<float>> fresh = FullLogits(model, tail);
  absl::StatusOr<Logits> c = Prefill(model, &cache, tail);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_LT(MaxAbsDiff(*c, fresh.back()), 1e-4f);
}

TEST(KvCacheTest, RejectsBadInput) {
  Gpt model = MakeModel(1);
  KvCache cache(model.config());
  EXPECT_EQ(Prefill(model, &cache, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Step(model, &cache, 97).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Step(model, &cache, -1).status().code(), absl::StatusCode::kInvalidArgument);
  GptConfig other = SmallConfig();
  other.num_layers = 1;
  KvCache wrong(other);
  EXPECT_EQ(Step(model, &wrong, 0).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int> too_long(25, 1);
  EXPECT_EQ(Prefill(model, &cache, too_long).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(cache.pos(), 0);
}

TEST(SamplerTest, GreedyIsDeterministicAndMatchesFullForwardArgMax) {
  Gpt model = MakeModel(3, 4.0f);
  const std::vector<int> prompt = {5, 17, 42};
  absl::StatusOr<Generation> a = Generate(model, prompt, -1, Greedy(12));
  absl::StatusOr<Generation> b = Generate(model, prompt, -1, Greedy(12));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tokens.size(), 12u);
  EXPECT_EQ(a->tokens, b->tokens);

  std::vector<int> seq = prompt;
  for (int expected : a->tokens) {
    const std::vector<float> last = FullLogits(model, seq).back();
    const int argmax = static_cast<int>(std::max_element(last.begin(), last.end()) - last.begin());
    EXPECT_EQ(argmax, expected);
    seq.push_back(argmax);
  }
  EXPECT_NEAR(a->log_prob, SequenceLogProb(model, prompt, a->tokens), 1e-3);
}

TEST(SamplerTest, FiltersThatLeaveOneTokenEqualGreedy) {
  Gpt model = MakeModel(4);
  const std::vector<int> prompt = {1, 2, 3};
  const std::vector<int> greedy = Generate(model, prompt, -1, Greedy(10))->tokens;
  for (uint64_t seed : {1u, 2u, 3u}) {
    SampleOptions top_k = Greedy(10);
    top_k.temperature = 1.0;
    top_k.top_k = 1;
    top_k.seed = seed;
    EXPECT_EQ(Generate(model, prompt, -1, top_k)->tokens, greedy);
    SampleOptions top_p = Greedy(10);
    top_p.temperature = 1.0;
    top_p.top_p = 1e-9;
    top_p.seed = seed;
    EXPECT_EQ(Generate(model, prompt, -1, top_p)->tokens, greedy);
  }
}

TEST(SamplerTest, SeededSamplingIsReproducibleAndSeedsDiffer) {
  Gpt model = MakeModel(5);  // GPT-2 init: close to uniform over 97 ids
  const std::vector<int> prompt = {9};
  SampleOptions options = Greedy(16);
  options.temperature = 1.0;
  options.seed = 42;
  const std::vector<int> a = Generate(model, prompt, -1, options)->tokens;
  EXPECT_EQ(Generate(model, prompt, -1, options)->tokens, a);
  options.seed = 43;
  const std::vector<int> b = Generate(model, prompt, -1, options)->tokens;
  EXPECT_NE(a, b);
  // Not greedy either.
  EXPECT_NE(a, Generate(model, prompt, -1, Greedy(16))->tokens);
}

TEST(SamplerTest, SampleTokenFollowsTheDocumentedProcedure) {
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f, 2.0f};  // order: 1, 3, 2, 0
  SampleOptions greedy;
  greedy.temperature = 0;
  EXPECT_EQ(SampleToken(logits, greedy, 0), 1);  // lowest id among equal maxima
  SampleOptions options;
  options.temperature = 1.0;
  EXPECT_EQ(SampleToken(logits, options, 0), 1);             // u = 0: the first in order
  EXPECT_EQ(SampleToken(logits, options, ~uint64_t{0}), 0);  // u ≈ 1: the last
  options.top_k = 2;
  EXPECT_EQ(SampleToken(logits, options, ~uint64_t{0}), 3);  // only ids 1 and 3 kept
  options.top_k = 0;
  options.top_p = 0.5;  // p(1) = p(3) ≈ 0.42: the nucleus is {1, 3}
  EXPECT_EQ(SampleToken(logits, options, ~uint64_t{0}), 3);
}

TEST(SamplerTest, BeamOfOneIsGreedyAndWiderBeamsScoreAtLeastGreedy) {
  for (uint64_t seed : {21u, 22u, 23u}) {
    Gpt model = MakeModel(seed, 3.0f);
    const std::vector<int> prompt = {4, 8};
    const Generation greedy = *Generate(model, prompt, -1, Greedy(6));
    SampleOptions beam1 = Greedy(6);
    beam1.beam = 1;
    EXPECT_EQ(Generate(model, prompt, -1, beam1)->tokens, greedy.tokens);

    SampleOptions beam4 = Greedy(6);
    beam4.beam = 4;
    const Generation beam = *Generate(model, prompt, -1, beam4);
    ASSERT_EQ(beam.tokens.size(), greedy.tokens.size());
    const double beam_lp = SequenceLogProb(model, prompt, beam.tokens);
    const double greedy_lp = SequenceLogProb(model, prompt, greedy.tokens);
    EXPECT_GE(beam_lp, greedy_lp - 1e-6) << "seed " << seed;
    EXPECT_NEAR(beam.log_prob, beam_lp, 1e-3);
  }
}

TEST(SamplerTest, StopsAtEotAndAtMaxTokens) {
  Gpt model = MakeModel(6, 4.0f);
  const std::vector<int> prompt = {30, 31};
  const std::vector<int> free_run = Generate(model, prompt, -1, Greedy(10))->tokens;
  ASSERT_EQ(free_run.size(), 10u);
  // The first generated token that did not appear before it becomes the end-of-text.
  size_t stop = 1;
  while (stop < free_run.size() && std::find(free_run.begin(), free_run.begin() + stop,
                                             free_run[stop]) != free_run.begin() + stop) {
    stop++;
  }
  ASSERT_LT(stop, free_run.size());
  const int eot = free_run[stop];
  for (int beam : {1, 3}) {
    SampleOptions options = Greedy(10);
    options.stop_at_eot = true;
    options.beam = beam;
    const Generation out = *Generate(model, prompt, eot, options);
    EXPECT_TRUE(std::find(out.tokens.begin(), out.tokens.end(), eot) == out.tokens.end());
    if (beam == 1) {
      EXPECT_TRUE(out.stopped_at_eot);
      EXPECT_EQ(out.tokens, std::vector<int>(free_run.begin(), free_run.begin() + stop));
    }
    EXPECT_LE(out.tokens.size(), 10u);
  }
  // Without stopping, eot is an ordinary token.
  SampleOptions no_stop = Greedy(10);
  EXPECT_EQ(Generate(model, prompt, eot, no_stop)->tokens, free_run);
  // max_tokens bounds the output; 0 generates nothing.
  EXPECT_EQ(Generate(model, prompt, -1, Greedy(3))->tokens,
            std::vector<int>(free_run.begin(), free_run.begin() + 3));
  EXPECT_TRUE(Generate(model, prompt, -1, Greedy(0))->tokens.empty());
  // The context bounds it too: 24 positions, so 24 − 20 + 1 tokens after a 20-token prompt.
  const std::vector<int> long_prompt(20, 7);
  EXPECT_EQ(Generate(model, long_prompt, -1, Greedy(50))->tokens.size(), 5u);
  SampleOptions wide = Greedy(50);
  wide.beam = 2;
  EXPECT_EQ(Generate(model, long_prompt, -1, wide)->tokens.size(), 5u);
}

TEST(SamplerTest, RejectsBadOptions) {
  Gpt model = MakeModel(1);
  const std::vector<int> prompt = {1};
  SampleOptions o;
  o.temperature = -1;
  EXPECT_FALSE(Generate(model, prompt, -1, o).ok());
  o = SampleOptions();
  o.top_p = 0;
  EXPECT_FALSE(Generate(model, prompt, -1, o).ok());
  o = SampleOptions();
  o.beam = 0;
  EXPECT_FALSE(Generate(model, prompt, -1, o).ok());
  EXPECT_FALSE(Generate(model, {}, -1, SampleOptions()).ok());
  EXPECT_FALSE(Generate(model, std::vector<int>(25, 1), -1, SampleOptions()).ok());
}

}  // namespace
}  // namespace winnow::trainer
