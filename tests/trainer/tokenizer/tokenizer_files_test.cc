// Tokenizer folders: merges recovered from ranks (GPT-2's vocab.bpe comes back exactly), HF-style
// merge-priority BPE with them encodes as tiktoken does, and Save → Load round-trips.
//
// With WINNOW_TOKENIZER_EXPORT_DIR set, TokenizerFiles.ExportsFoldersForTheHfCheck writes folders
// for tests/tools/hf_tokenizers_check.py (and, with WINNOW_TOKENIZER_SAMPLES = a JSONL file of
// {"text"}, each folder's winnow_ids.jsonl: {"ids", "ids_special"} per text).
#include "trainer/tokenizer/tokenizer_files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/bpe_trainer.h"
#include "trainer/tokenizer/byte_unicode.h"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;
const std::string kShared = WINNOW_SHARED_DIR;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Real text of many kinds: the article text of the extraction pages (tags dropped), GSM8K, and
// strings that stress the pre-tokenizer.
std::vector<std::string> RealTexts() {
  std::vector<std::string> texts;
  std::vector<fs::path> pages;
  for (const auto& entry : fs::directory_iterator(kShared + "/data/extraction-dev")) {
    if (fs::exists(entry.path() / "expected.html")) pages.push_back(entry.path() / "expected.html");
  }
  std::sort(pages.begin(), pages.end());
  for (const fs::path& page : pages) {
    const std::string html = ReadFile(page);
    std::string text;
    bool in_tag = false;
    for (char c : html) {
      if (c == '<') in_tag = true;
      if (!in_tag) text += c;
      if (c == '>') in_tag = false;
    }
    texts.push_back(std::move(text));
  }
  std::ifstream gsm(kShared + "/data/posttrain/gsm8k/test.jsonl");
  for (std::string line; texts.size() < pages.size() + 300 && std::getline(gsm, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    texts.push_back(j["question"].get<std::string>() + "\n" + j["answer"].get<std::string>());
  }
  for (const char* edge :
       {"I'LL go; she'S here. They've 'd 're", "1234567890 3.14159 ١٢٣٤ ½",
        "  leading\ttabs\r\n\r\ntrailing   \n\n\n",
        "naïve café — “quotes” … 日本語のテキスト 🎉👍🏽",
        "a\u00a0b\u3000c\u0085d\u2028e", "Ünïcödé ÀÉÎ Straße ΣΑΣ σας",
        "x = f(y)+=3; // {} [] <html>", "hindi: हिन्दी मराठी; arabic: مرحبا بالعالم",
        "emoji 🏳️‍🌈 zwj", "\n", " ", ""}) {
    texts.emplace_back(edge);
  }
  return texts;
}

// Tokenizers the tests use, owned until the program ends.
const Tokenizer* Keep(std::unique_ptr<Tokenizer> t) {
  static auto* kept = new std::vector<std::unique_ptr<Tokenizer>>();
  kept->push_back(std::move(t));
  return kept->back().get();
}

const Tokenizer* Load(const std::string& spec) {
  auto t = Tokenizer::Load(spec);
  EXPECT_TRUE(t.ok()) << spec << ": " << t.status();
  return t.ok() ? Keep(std::move(*t)) : nullptr;
}

// BPE as Hugging Face runs it: a piece that is a token stays whole (ignore_merges); otherwise the
// merge with the lowest priority among adjacent pairs is applied, leftmost first.
class MergeBpe {
 public:
  MergeBpe(const Tokenizer& t, const std::vector<TokenMerge>& merges) : t_(t) {
    for (size_t i = 0; i < merges.size(); ++i) {
      priority_[Key(merges[i].left, merges[i].right)] = {i, merges[i].result};
    }
  }
  std::vector<TokenId> Encode(std::string_view piece) const {
    if (auto whole = t_.Rank(piece); whole.has_value()) return {*whole};
    std::vector<TokenId> parts;
    for (char c : piece) parts.push_back(*t_.Rank(std::string_view(&c, 1)));
    while (parts.size() > 1) {
      size_t best = SIZE_MAX, at = 0;
      TokenId result = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = priority_.find(Key(parts[i], parts[i + 1]));
        if (it != priority_.end() && it->second.first < best) {
          best = it->second.first;
          result = it->second.second;
          at = i;
        }
      }
      if (best == SIZE_MAX) break;
      parts[at] = result;
      parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    return parts;
  }

 private:
  static uint64_t Key(TokenId a, TokenId b) { return (static_cast<uint64_t>(a) << 32) | b; }
  const Tokenizer& t_;
  absl::flat_hash_map<uint64_t, std::pair<size_t, TokenId>> priority_;
};

TEST(TokenizerFiles, RecoversGpt2sVocabBpeFromTheRankFile) {
  auto t = Load("gpt2");
  ASSERT_NE(t, nullptr);
  size_t unreachable = 1;
  const std::vector<TokenMerge> merges = RecoverMerges(*t, &unreachable);
  EXPECT_EQ(unreachable, 0u);
  std::ifstream in(kShared + "/data/tokenizers/gpt2_vocab.bpe");
  ASSERT_TRUE(in);
  std::string line;
  std::getline(in, line);  // #version
  size_t i = 0;
  for (; std::getline(in, line) && !line.empty(); ++i) {
    ASSERT_LT(i, merges.size());
    const size_t space = line.find(' ');
    std::string left, right;
    ASSERT_TRUE(UnicodeToBytes(line.substr(0, space), &left));
    ASSERT_TRUE(UnicodeToBytes(line.substr(space + 1), &right));
    ASSERT_EQ(t->TokenBytes(merges[i].left), left) << "merge " << i << ": " << line;
    ASSERT_EQ(t->TokenBytes(merges[i].right), right) << "merge " << i << ": " << line;
    ASSERT_EQ(merges[i].result, 256 + i);
  }
  EXPECT_EQ(i, 50000u);
  EXPECT_EQ(merges.size(), 50000u);
}

TEST(TokenizerFiles, MergePriorityBpeWithRecoveredMergesEncodesAsTiktoken) {
  const std::vector<std::string> texts = RealTexts();
  for (const char* name : {"r50k_base", "cl100k_base", "o200k_base"}) {
    auto t = Load(name);
    ASSERT_NE(t, nullptr);
    size_t unreachable = 1;
    const std::vector<TokenMerge> merges = RecoverMerges(*t, &unreachable);
    EXPECT_EQ(unreachable, 0u) << name;
    EXPECT_EQ(merges.size(), t->num_ranks() - 256) << name;
    const MergeBpe bpe(*t, merges);
    size_t pieces_checked = 0, mismatches = 0;
    std::vector<std::string_view> pieces;
    for (const std::string& text : texts) {
      pieces.clear();
      Pretokenize(text, t->pattern(), &pieces);
      for (std::string_view piece : pieces) {
        std::vector<TokenId> expected;
        t->EncodePiece(piece, &expected);
        if (bpe.Encode(piece) != expected) {
          if (++mismatches < 5) {
            std::string e, g;
            for (TokenId id : expected)
              e += absl::StrCat(id, ":", std::string(t->TokenBytes(id)), " ");
            for (TokenId id : bpe.Encode(piece))
              g += absl::StrCat(id, ":", std::string(t->TokenBytes(id)), " ");
            ADD_FAILURE() << name << ": " << absl::CEscape(std::string(piece)) << " tiktoken " << e
                          << " merges " << g;
          }
        }
        ++pieces_checked;
      }
    }
    EXPECT_EQ(mismatches, 0u) << name << " over " << pieces_checked << " pieces";
    EXPECT_GT(pieces_checked, 200000u);
  }
}

void ExpectSameEncoding(const Tokenizer& a, const Tokenizer& b,
                        const std::vector<std::string>& texts) {
  EXPECT_EQ(a.num_ranks(), b.num_ranks());
  EXPECT_EQ(a.vocab_size(), b.vocab_size());
  EXPECT_EQ(a.specials(), b.specials());
  EXPECT_EQ(a.pattern(), b.pattern());
  SpecialTokens all;
  all.allow_all = true;
  for (const std::string& text : texts) {
    ASSERT_EQ(a.EncodeOrdinary(text), b.EncodeOrdinary(text)) << absl::CEscape(text.substr(0, 80));
    const std::string with = "<|endoftext|>" + text.substr(0, 200) + "<|endoftext|>";
    ASSERT_EQ(*a.Encode(with, all), *b.Encode(with, all));
  }
}

TEST(TokenizerFiles, SavedCl100kLoadsBackFromEachFile) {
  auto t = Load("cl100k_base");
  ASSERT_NE(t, nullptr);
  const std::string dir = ::testing::TempDir() + "/saved-cl100k";
  fs::remove_all(dir);
  ASSERT_TRUE(SaveTokenizer(*t, dir).ok());
  const nlohmann::json meta = nlohmann::json::parse(ReadFile(dir + "/winnow_tokenizer.json"));
  EXPECT_EQ(meta["pattern"], "cl100k");
  EXPECT_EQ(meta["vocab_size"], 100277);
  EXPECT_EQ(meta["specials"]["<|endoftext|>"], 100257);
  EXPECT_FALSE(meta.contains("trained_on"));
  // The rank file is the original, byte for byte.
  EXPECT_EQ(ReadFile(dir + "/tokenizer.tiktoken"),
            ReadFile(kShared + "/data/tokenizers/cl100k_base.tiktoken"));
  const nlohmann::json hf = nlohmann::json::parse(ReadFile(dir + "/tokenizer.json"));
  EXPECT_EQ(hf["model"]["merges"].size(), 100256u - 256u);
  EXPECT_EQ(hf["model"]["vocab"]["<|endoftext|>"], 100257);
  EXPECT_EQ(hf["added_tokens"].size(), 5u);
  EXPECT_EQ(hf["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"],
            HfPretokenRegex(PretokenPattern::kCl100k));
  EXPECT_EQ(HfPretokenRegex(PretokenPattern::kCl100k).find("{1,3}+"), std::string::npos);
  EXPECT_EQ(HfPretokenRegex(PretokenPattern::kO200k),
            PretokenPatternRegex(PretokenPattern::kO200k));

  std::vector<std::string> texts = RealTexts();
  texts.resize(40);
  for (const std::string& spec :
       {dir, dir + "/tokenizer.json", dir + "/tokenizer.tiktoken:cl100k"}) {
    auto back = Load(spec);
    ASSERT_NE(back, nullptr) << spec;
    ExpectSameEncoding(*t, *back, texts);
  }
}

TEST(TokenizerFiles, SavedTrainedTokenizerLoadsBackWithItsSpecialsAndMerges) {
  const std::vector<std::string> texts = RealTexts();
  BpeTrainerOptions options;
  options.vocab_size = 3000;
  options.specials = {"<|endoftext|>", "<|user|>", "<|assistant|>"};
  BpeTrainer trainer(options);
  for (const std::string& text : texts) trainer.AddText(text);
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok()) << model.status();
  auto trained = model->ToTokenizer("trained");
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Tokenizer* t = Keep(std::move(*trained));
  // The recovered merges are the training's own.
  size_t unreachable = 1;
  const std::vector<TokenMerge> merges = RecoverMerges(*t, &unreachable);
  EXPECT_EQ(unreachable, 0u);
  ASSERT_EQ(merges.size(), model->merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    ASSERT_EQ(merges[i].left, model->merges[i].left) << i;
    ASSERT_EQ(merges[i].right, model->merges[i].right) << i;
    ASSERT_EQ(merges[i].result, model->merges[i].result) << i;
  }
  const std::string dir = ::testing::TempDir() + "/saved-trained";
  fs::remove_all(dir);
  SaveTokenizerOptions save;
  save.trained_on = "extraction-dev + gsm8k test";
  ASSERT_TRUE(SaveTokenizer(*t, dir, save).ok());
  const nlohmann::json meta = nlohmann::json::parse(ReadFile(dir + "/winnow_tokenizer.json"));
  EXPECT_EQ(meta["trained_on"], "extraction-dev + gsm8k test");
  EXPECT_EQ(meta["specials"]["<|assistant|>"], 2999);
  for (const std::string& spec : {dir, dir + "/tokenizer.tiktoken:cl100k"}) {
    auto back = Load(spec);
    ASSERT_NE(back, nullptr) << spec;
    ExpectSameEncoding(*t, *back, texts);
  }
}

TEST(TokenizerFiles, RefusesASpecialSpelledLikeAnOrdinaryToken) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  tokens.push_back("ab");
  auto clash = Tokenizer::FromRanks("clash", tokens, PretokenPattern::kCl100k, {{"ab", 300}});
  ASSERT_TRUE(clash.ok());
  const Tokenizer* t = Keep(std::move(*clash));
  auto json = HfTokenizerJson(*t, RecoverMerges(*t));
  EXPECT_FALSE(json.ok());
  EXPECT_FALSE(SaveTokenizer(*t, ::testing::TempDir() + "/clash").ok());
}

// Specials not spelled <|…|> ("[PAD]", "<s>") are in tokenizer.json's vocabulary too (so HF keeps
// their ids); Tokenizer::Load must take them from added_tokens, not as byte tokens. Disabled until
// the loader does (it reads only <|…|> vocabulary entries as specials).
TEST(TokenizerFiles, SpecialsOfAnyShapeLoadBack) {
  BpeTrainerOptions options;
  options.vocab_size = 300;
  options.min_frequency = 0;
  options.specials = {"<|endoftext|>", "[PAD]", "<s>"};
  BpeTrainer trainer(options);
  trainer.AddText("hello world, hello there; the world is big");
  auto model = trainer.Train();
  ASSERT_TRUE(model.ok());
  auto trained = model->ToTokenizer("any-specials");
  ASSERT_TRUE(trained.ok());
  const std::string dir = ::testing::TempDir() + "/any-specials";
  ASSERT_TRUE(SaveTokenizer(**trained, dir).ok());
  const Tokenizer* back = Load(dir);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->specials(), (*trained)->specials());
}

// Not a check by itself: folders and ids for tests/tools/hf_tokenizers_check.py.
TEST(TokenizerFiles, ExportsFoldersForTheHfCheck) {
  const char* out = std::getenv("WINNOW_TOKENIZER_EXPORT_DIR");
  if (out == nullptr || *out == '\0') GTEST_SKIP() << "WINNOW_TOKENIZER_EXPORT_DIR not set";
  std::vector<std::pair<std::string, const Tokenizer*>> all;
  for (const char* name : {"r50k_base", "p50k_base", "cl100k_base", "o200k_base"}) {
    all.emplace_back(name, Load(name));
  }
  const std::vector<std::string> texts = RealTexts();
  for (PretokenPattern pattern : {PretokenPattern::kCl100k, PretokenPattern::kO200k}) {
    BpeTrainerOptions options;
    options.vocab_size = 8192;
    options.pattern = pattern;
    options.specials = {"<|endoftext|>", "<|user|>", "<|assistant|>"};
    BpeTrainer trainer(options);
    for (const std::string& text : texts) trainer.AddText(text);
    auto model = trainer.Train();
    ASSERT_TRUE(model.ok()) << model.status();
    const std::string name = "trained-8k-" + std::string(PretokenPatternName(pattern));
    auto t = model->ToTokenizer(name);
    ASSERT_TRUE(t.ok()) << t.status();
    all.emplace_back(name, Keep(std::move(*t)));
  }
  std::vector<std::string> samples;
  if (const char* path = std::getenv("WINNOW_TOKENIZER_SAMPLES"); path != nullptr && *path) {
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    for (std::string line; std::getline(in, line);) {
      samples.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
    }
  }
  SpecialTokens special;
  special.allow_all = true;
  for (const auto& [name, t] : all) {
    ASSERT_NE(t, nullptr);
    const std::string dir = std::string(out) + "/" + name;
    SaveTokenizerOptions save;
    if (absl::StartsWith(name, "trained")) save.trained_on = "extraction-dev + gsm8k test (tests)";
    ASSERT_TRUE(SaveTokenizer(*t, dir, save).ok()) << dir;
    if (samples.empty()) continue;
    // The ids as Winnow encodes with the folder it wrote (its tokenizer.json, or where the loader
    // does not read that yet, its rank file).
    auto loaded = Tokenizer::Load(dir);
    if (!loaded.ok()) {
      std::printf("%s: %s; ids from tokenizer.tiktoken\n", name.c_str(),
                  std::string(loaded.status().message()).c_str());
      loaded = Tokenizer::Load(
          dir + "/tokenizer.tiktoken:" + std::string(PretokenPatternName(t->pattern())));
    }
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    const Tokenizer* back = Keep(std::move(*loaded));
    std::ofstream ids(dir + "/winnow_ids.jsonl");
    for (const std::string& text : samples) {
      ids << nlohmann::json{{"ids", back->EncodeOrdinary(text)},
                            {"ids_special", *back->Encode(text, special)}}
                 .dump()
          << "\n";
    }
  }
}

}  // namespace
}  // namespace winnow::trainer
