// Agreement of SplitWords/SplitSentences with spaCy (the reference's English tokenizer), on the
// golden paragraphs bench/tokenizer_agreement.py --write-golden wrote from real text.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/text/unicode.h"
#include "pipeline/text/words.h"

namespace winnow::pipeline {
namespace {

// Matched tokens (longest common subsequence, like difflib's matching blocks on these inputs) of
// two token sequences.
size_t MatchedTokens(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> Strings(const std::vector<std::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

TEST(SpacyAgreement, GoldenParagraphs) {
  const std::string path =
      std::string(WINNOW_SOURCE_DIR) + "/tests/pipeline/text/testdata/spacy_tokens.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing " << path << " (bench/tokenizer_agreement.py --write-golden)";
  size_t docs = 0, exact = 0, matched = 0, total = 0, sentence_counts_equal = 0;
  std::string line;
  std::vector<std::string> mismatches;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    const auto want = j["tokens"].get<std::vector<std::string>>();
    const auto got = Strings(SplitWords(text));
    ++docs;
    if (want == got) {
      ++exact;
    } else if (mismatches.size() < 5) {
      mismatches.push_back(text.substr(0, 200));
    }
    matched += MatchedTokens(want, got);
    total += std::max(want.size(), got.size());
    const auto want_sentences = j["sentences"].get<std::vector<std::string>>();
    const auto got_sentences = Strings(SplitSentences(text));
    sentence_counts_equal += want_sentences.size() == got_sentences.size();
    EXPECT_EQ(static_cast<size_t>(CountSentences(text)), got_sentences.size());
  }
  ASSERT_GT(docs, 100u);
  const double token_agreement = 100.0 * matched / total;
  const double exact_docs = 100.0 * exact / docs;
  const double sentences = 100.0 * sentence_counts_equal / docs;
  std::printf(
      "spaCy agreement on %zu paragraphs: tokens %.3f%%, identical paragraphs %.1f%%, "
      "equal sentence counts %.1f%%\n",
      docs, token_agreement, exact_docs, sentences);
  for (const std::string& m : mismatches) std::printf("  differs: %s\n", m.c_str());
  // The splitter reproduces spaCy exactly on these paragraphs: any difference is a regression.
  EXPECT_EQ(matched, total);
  EXPECT_EQ(exact, docs);
  EXPECT_EQ(sentence_counts_equal, docs);
}

// Not a check: bench/tokenizer_agreement.py runs it to tokenize a whole corpus with the C++
// splitter (WINNOW_TOKENIZE_IN: JSONL of {"text"}; WINNOW_TOKENIZE_OUT: {"tokens", "sentences"}).
TEST(SpacyAgreement, DISABLED_DumpTokenization) {
  const char* in_path = std::getenv("WINNOW_TOKENIZE_IN");
  const char* out_path = std::getenv("WINNOW_TOKENIZE_OUT");
  if (in_path == nullptr || out_path == nullptr) GTEST_SKIP() << "WINNOW_TOKENIZE_IN/OUT not set";
  std::ifstream in(in_path);
  std::ofstream out(out_path);
  ASSERT_TRUE(in && out);
  std::string line;
  while (std::getline(in, line)) {
    const std::string text = nlohmann::json::parse(line)["text"];
    nlohmann::json j;
    j["tokens"] = Strings(SplitWords(text));
    j["sentences"] = Strings(SplitSentences(text));
    std::vector<std::pair<size_t, size_t>> spans;
    SentenceSpans(text, &spans);
    nlohmann::json js = nlohmann::json::array();
    for (const auto& [begin, end] : spans) {  // in code points, as Python counts
      js.push_back({CodePointCount(std::string_view(text).substr(0, begin)),
                    CodePointCount(std::string_view(text).substr(0, end))});
    }
    j["spans"] = js;
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
}

// Not a check: bench/tokenizer_agreement.py --speed runs it for the tokenizer's speed on one core
// (WINNOW_TOKENIZE_IN: JSONL of {"text"}; WINNOW_TOKENIZE_ROUNDS: passes over it, default 5).
TEST(SpacyAgreement, DISABLED_Speed) {
  const char* in_path = std::getenv("WINNOW_TOKENIZE_IN");
  if (in_path == nullptr) GTEST_SKIP() << "WINNOW_TOKENIZE_IN not set";
  std::ifstream in(in_path);
  std::vector<std::string> texts;
  size_t bytes = 0;
  std::string line;
  while (std::getline(in, line)) {
    texts.push_back(nlohmann::json::parse(line)["text"]);
    bytes += texts.back().size();
  }
  const char* rounds_env = std::getenv("WINNOW_TOKENIZE_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::atoi(rounds_env) : 5;
  std::vector<std::string_view> words;
  for (const std::string& t : texts) SplitWords(t, &words);  // warm up
  size_t tokens = 0;
  long sentences = 0;
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& t : texts) {
      SplitWords(t, &words);
      tokens += words.size();
    }
  }
  const double words_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& t : texts) sentences += CountSentences(t);
  }
  const double sentences_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"bytes\": %zu, \"rounds\": %d, \"tokens\": %zu, \"split_words_mb_s\": %.1f, "
      "\"count_sentences_mb_s\": %.1f}\n",
      bytes, rounds, tokens / rounds, rounds * bytes / words_s / 1e6,
      rounds * bytes / sentences_s / 1e6);
  (void)sentences;
}

}  // namespace
}  // namespace winnow::pipeline
