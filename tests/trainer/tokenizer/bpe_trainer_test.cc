// BPE training: the tie rule on hand-made counts, the incremental trainer against a naive one that
// recounts every pair each step, and the trained vocabulary as a Tokenizer on real text.
#include "trainer/tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"

namespace winnow::trainer {
namespace {

// Real English text: GSM8K questions and answers (../shared/data/posttrain/gsm8k).
std::vector<std::string> Gsm8kTexts(size_t limit) {
  std::ifstream in(std::string(WINNOW_SHARED_DIR) + "/data/posttrain/gsm8k/train.jsonl");
  EXPECT_TRUE(in) << "missing gsm8k/train.jsonl";
  std::vector<std::string> texts;
  for (std::string line; texts.size() < limit && std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    texts.push_back(j["question"].get<std::string>() + "\n" + j["answer"].get<std::string>());
  }
  return texts;
}

BpeTrainerOptions Options(size_t vocab_size, std::vector<std::string> specials = {}) {
  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  options.specials = std::move(specials);
  options.min_frequency = 0;
  return options;
}

using BytePair = std::pair<std::string, std::string>;

std::vector<BytePair> MergeBytes(const BpeModel& model) {
  std::vector<BytePair> out;
  for (const BpeModel::Merge& m : model.merges) {
    out.emplace_back(model.tokens_by_id[m.left], model.tokens_by_id[m.right]);
  }
  return out;
}

// The textbook trainer: recount every pair every step, take max by (count, (left, right)).
std::vector<BytePair> NaiveTrain(const std::map<std::string, uint64_t>& chunks, size_t merges) {
  std::vector<std::pair<std::vector<std::string>, uint64_t>> words;
  for (const auto& [bytes, count] : chunks) {
    std::vector<std::string> w;
    for (char c : bytes) w.emplace_back(1, c);
    words.emplace_back(std::move(w), count);
  }
  std::vector<BytePair> out;
  while (out.size() < merges) {
    std::map<BytePair, uint64_t> stats;
    for (const auto& [w, count] : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) stats[{w[i], w[i + 1]}] += count;
    }
    if (stats.empty()) break;
    auto best = stats.begin();
    for (auto it = stats.begin(); it != stats.end(); ++it) {
      if (it->second >= best->second) best = it;  // ascending pairs: ties end on the greatest
    }
    const BytePair pair = best->first;
    out.push_back(pair);
    for (auto& [w, count] : words) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < w.size();) {
        if (i + 1 < w.size() && w[i] == pair.first && w[i + 1] == pair.second) {
          merged.push_back(pair.first + pair.second);
          i += 2;
        } else {
          merged.push_back(w[i++]);
        }
      }
      w = std::move(merged);
    }
  }
  return out;
}

TEST(BpeTrainer, BreaksTiesByTheGreatestPairComparingLeftBytesFirst) {
  // ab×7 first; then (ab, c) and (a, z) both count 2: as tuples ("ab", "c") > ("a", "z") because
  // "ab" > "a", although the concatenation "abc" < "az".
  BpeTrainer trainer(Options(256 + 3));
  trainer.AddChunk("ab", 5);
  trainer.AddChunk("abc", 2);
  trainer.AddChunk("az", 2);
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(MergeBytes(*model), (std::vector<BytePair>{{"a", "b"}, {"ab", "c"}, {"a", "z"}}));
  EXPECT_EQ(model->merges[0].count, 7u);
  EXPECT_EQ(model->tokens_by_id[256], "ab");
  EXPECT_EQ(model->tokens_by_id[257], "abc");

  // Equal counts: the greatest left byte wins, then the greatest right byte; bytes compare
  // unsigned (0xC3 > 'z').
  BpeTrainer ties(Options(256 + 4));
  for (const char* chunk : {"xa", "xb", "ya", "\xc3\xa9"}) ties.AddChunk(chunk, 3);
  auto tied = ties.Train();
  ASSERT_TRUE(tied.ok());
  EXPECT_EQ(MergeBytes(*tied),
            (std::vector<BytePair>{{"\xc3", "\xa9"}, {"y", "a"}, {"x", "b"}, {"x", "a"}}));
}

TEST(BpeTrainer, MergesLeftToRightWithinAChunkAndCountsOverlapsOnce) {
  // "aaaaa" holds 4 overlapping (a,a) but merging makes aa aa a: after the merge (aa, aa) counts 1
  // and (aa, a) counts 1; the greater pair ("aa", "aa") goes first.
  BpeTrainer trainer(Options(256 + 3));
  trainer.AddChunk("aaaaa", 1);
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(MergeBytes(*model), (std::vector<BytePair>{{"a", "a"}, {"aa", "aa"}, {"aaaa", "a"}}));
  EXPECT_FALSE(model->stopped_early);
}

TEST(BpeTrainer, MatchesTheNaiveTrainerOnRealText) {
  std::map<std::string, uint64_t> chunks;
  BpeTrainer trainer(Options(256 + 300));
  std::vector<std::string_view> pieces;
  for (const std::string& text : Gsm8kTexts(400)) {
    trainer.AddText(text);
    pieces.clear();
    Pretokenize(text, PretokenPattern::kCl100k, &pieces);
    for (std::string_view p : pieces) ++chunks[std::string(p)];
  }
  EXPECT_EQ(trainer.stats().distinct_chunks, chunks.size());
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<BytePair> expected = NaiveTrain(chunks, 300);
  const std::vector<BytePair> got = MergeBytes(*model);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], expected[i])
        << "merge " << i << ": " << absl::CEscape(got[i].first) << " + "
        << absl::CEscape(got[i].second) << " vs " << absl::CEscape(expected[i].first) << " + "
        << absl::CEscape(expected[i].second);
  }
}

TEST(BpeTrainer, TrainedVocabularyEncodesItsCorpusAsTheMergesDid) {
  const std::vector<std::string> texts = Gsm8kTexts(3000);
  BpeTrainerOptions options = Options(2048, {"<|endoftext|>", "<|pad|>"});
  BpeTrainer trainer(options);
  for (const std::string& text : texts) trainer.AddText(text + "<|endoftext|>");
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(model->stopped_early);
  EXPECT_EQ(model->duplicate_merges, 0u);
  ASSERT_EQ(model->tokens_by_id.size(), 2046u);
  EXPECT_EQ(model->specials,
            (std::map<std::string, TokenId>{{"<|endoftext|>", 2046}, {"<|pad|>", 2047}}));
  // Counts never rise from one merge to the next.
  for (size_t i = 1; i < model->merges.size(); ++i) {
    EXPECT_LE(model->merges[i].count, model->merges[i - 1].count) << i;
  }
  auto tokenizer = model->ToTokenizer("gsm8k-2k");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& t = **tokenizer;
  EXPECT_EQ(t.vocab_size(), 2048u);
  // Frequent words are single tokens.
  for (const char* word : {" the", " many", " much", " total", "####"}) {
    EXPECT_EQ(t.EncodeOrdinary(word).size(), 1u) << word;
  }
  // Every distinct chunk: replaying the merges in order gives tiktoken's encoding of it.
  std::map<std::string, int> distinct;
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < 600; ++i) {
    pieces.clear();
    Pretokenize(texts[i], PretokenPattern::kCl100k, &pieces);
    for (std::string_view p : pieces) distinct[std::string(p)] = 0;
  }
  size_t mismatches = 0;
  for (const auto& [chunk, unused] : distinct) {
    std::vector<TokenId> replay;
    for (unsigned char c : chunk) replay.push_back(c);
    for (const BpeModel::Merge& m : model->merges) {
      std::vector<TokenId> next;
      for (size_t i = 0; i < replay.size();) {
        if (i + 1 < replay.size() && replay[i] == m.left && replay[i + 1] == m.right) {
          next.push_back(m.result);
          i += 2;
        } else {
          next.push_back(replay[i++]);
        }
      }
      replay = std::move(next);
    }
    std::vector<TokenId> encoded;
    t.EncodePiece(chunk, &encoded);
    if (encoded != replay) ++mismatches;
  }
  EXPECT_GT(distinct.size(), 2000u);
  EXPECT_EQ(mismatches, 0u);
  // Special text was a boundary, never learned; with specials allowed it becomes the id.
  EXPECT_FALSE(t.Rank("endoftext").has_value());
  EXPECT_FALSE(t.Rank("<|").has_value());
  SpecialTokens all;
  all.allow_all = true;
  auto ids = t.Encode("The end.<|endoftext|>", all);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->back(), 2046u);
  EXPECT_EQ(t.Decode(*ids), "The end.<|endoftext|>");
}

TEST(BpeTrainer, ResultDependsOnlyOnCountsNotFeedingOrder) {
  std::vector<std::string> texts = Gsm8kTexts(800);
  std::vector<BytePair> first;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) std::shuffle(texts.begin(), texts.end(), std::mt19937(7));
    auto model = TrainBpe(Options(1000), [&, i = size_t{0}](std::string* text) mutable {
      if (i == texts.size()) return false;
      *text = texts[i++];
      return true;
    });
    ASSERT_TRUE(model.ok()) << model.status();
    if (round == 0) {
      first = MergeBytes(*model);
    } else {
      EXPECT_EQ(MergeBytes(*model), first);
    }
  }
  EXPECT_EQ(first.size(), 1000u - 256u);
}

TEST(BpeTrainer, PrunesRareChunksPastTheBoundAndStillTrains) {
  BpeTrainerOptions options = Options(600);
  options.max_distinct_chunks = 2000;
  BpeTrainer trainer(options);
  for (const std::string& text : Gsm8kTexts(2000)) trainer.AddText(text);
  EXPECT_GT(trainer.stats().prunings, 0u);
  EXPECT_GT(trainer.stats().pruned_chunks, 0u);
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok());
  EXPECT_LE(trainer.stats().distinct_chunks, 2000u);
  auto t = model->ToTokenizer("pruned");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->EncodeOrdinary(" the").size(), 1u);
}

TEST(BpeTrainer, StopsEarlyWhenPairsRunOutOrFallBelowMinFrequency) {
  BpeTrainer tiny(Options(1000, {"<|endoftext|>"}));
  tiny.AddText("hello hello");
  auto model = tiny.Train();
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE(model->stopped_early);
  EXPECT_EQ(model->tokens_by_id.back(), " hello");
  // Specials follow the last rank when the vocabulary is not full.
  EXPECT_EQ(model->specials.at("<|endoftext|>"), model->tokens_by_id.size());
  ASSERT_TRUE(model->ToTokenizer("tiny").ok());

  BpeTrainerOptions options = Options(1000);
  options.min_frequency = 2;
  BpeTrainer rare(options);
  rare.AddText("abab cd");
  auto rare_model = rare.Train();
  ASSERT_TRUE(rare_model.ok());
  EXPECT_EQ(MergeBytes(*rare_model), (std::vector<BytePair>{{"a", "b"}}));
}

TEST(BpeTrainer, RejectsBadOptions) {
  EXPECT_FALSE(BpeTrainer(Options(255)).Train().ok());
  EXPECT_FALSE(BpeTrainer(Options(257, {"<|a|>", "<|b|>"})).Train().ok());
  EXPECT_FALSE(BpeTrainer(Options(300, {"<|a|>", "<|a|>"})).Train().ok());
  EXPECT_FALSE(BpeTrainer(Options(300, {""})).Train().ok());
  BpeTrainer once(Options(300));
  ASSERT_TRUE(once.Train().ok());
  EXPECT_FALSE(once.Train().ok());
}

}  // namespace
}  // namespace winnow::trainer
