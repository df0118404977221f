// The tokenizer against tiktoken's own test vectors, plus the properties every byte-level BPE
// must have: decode(encode(x)) == x for any bytes, total decode, special-token handling.
#include "trainer/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"

namespace winnow::trainer {
namespace {

const std::string kTokenizers = std::string(WINNOW_SHARED_DIR) + "/data/tokenizers";

const Tokenizer& Get(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& t = loaded[name];
  if (t == nullptr) {
    auto result = Tokenizer::Load(name);
    EXPECT_TRUE(result.ok()) << result.status();
    t = std::move(*result);
  }
  return *t;
}

TEST(Tokenizer, PassesTiktokensVectors) {
  std::ifstream in(kTokenizers + "/tiktoken-vectors.jsonl");
  ASSERT_TRUE(in) << "missing tiktoken-vectors.jsonl";
  int cases = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json c = nlohmann::json::parse(line);
    const Tokenizer& t = Get(c["encoding"]);
    std::vector<TokenId> got;
    if (c["method"] == "_encode_bytes") {
      std::string bytes = absl::HexStringToBytes(c["input"]["bytes_hex"].get<std::string>());
      got = t.EncodeBytes(bytes);
    } else {
      SpecialTokens special;
      const nlohmann::json& kwargs = c["kwargs"];
      if (kwargs.contains("allowed_special")) {
        if (kwargs["allowed_special"] == "all") {
          special.allow_all = true;
        } else {
          special.allowed = kwargs["allowed_special"].get<std::vector<std::string>>();
        }
      }
      auto encoded = t.Encode(c["input"].get<std::string>(), special);
      ASSERT_TRUE(encoded.ok()) << encoded.status();
      got = *encoded;
    }
    EXPECT_EQ(got, c["expected"].get<std::vector<TokenId>>()) << line;
    ++cases;
  }
  EXPECT_GE(cases, 30);
}

TEST(Tokenizer, GptTwoFilesAndTheRankFileAgree) {
  // ../shared/data/tokenizers holds GPT-2's encoder.json/vocab.bpe under other names: copy them.
  const std::string dir = ::testing::TempDir() + "/gpt2-files";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kTokenizers + "/gpt2_encoder.json", dir + "/encoder.json",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(kTokenizers + "/gpt2_vocab.bpe", dir + "/vocab.bpe",
                             std::filesystem::copy_options::overwrite_existing);
  auto files = Tokenizer::Load(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  const Tokenizer& ranks = Get("gpt2");
  EXPECT_EQ((*files)->num_ranks(), ranks.num_ranks());
  EXPECT_EQ((*files)->eot(), ranks.eot());
  for (const char* text : {"Hello world, it's 2024!\n\n  indented\ttabs", "naïve café 日本語 🎉"}) {
    EXPECT_EQ((*files)->EncodeOrdinary(text), ranks.EncodeOrdinary(text)) << text;
  }
}

TEST(Tokenizer, DecodeInvertsEncodeOnArbitraryBytes) {
  std::mt19937_64 random(3);
  for (const char* name : {"gpt2", "cl100k_base", "o200k_base"}) {
    const Tokenizer& t = Get(name);
    for (int round = 0; round < 200; ++round) {
      std::string bytes(random() % 64, '\0');
      for (char& c : bytes) {
        // Mostly UTF-8 fragments, spaces and newlines, some arbitrary bytes.
        static const char* kAlphabet[] = {"a",  " ", "\n",   "\r\n",     "é",  "日",       "🎉",
                                          "'s", "1", "\xff", "\xe2\x80", "\t", "\xc2\xa0", "Z"};
        c = kAlphabet[random() % 14][0];
      }
      std::string text;
      for (int k = 0; k < 20; ++k) {
        static const char* kParts[] = {"a",        " ",  "\n", "\r\n", "é",        "日",
                                       "🎉",        "'s", "1",  "\xff", "\xe2\x80", "\t",
                                       "\xc2\xa0", "Z",  "  ", "!!"};
        text += kParts[random() % 16];
      }
      EXPECT_EQ(t.Decode(t.EncodeOrdinary(text)), text) << name << " " << absl::CEscape(text);
      EXPECT_EQ(t.Decode(t.EncodeBytes(text)), text) << name << " " << absl::CEscape(text);
    }
  }
}

TEST(Tokenizer, SpecialTokensAreTextUnlessAllowedAndErrorsOnlyWhenAsked) {
  const Tokenizer& t = Get("cl100k_base");
  const std::string text = "a<|endoftext|>b";
  auto ordinary = t.Encode(text, SpecialTokens{});
  ASSERT_TRUE(ordinary.ok());
  EXPECT_EQ(std::count(ordinary->begin(), ordinary->end(), 100257u), 0);
  SpecialTokens allowed;
  allowed.allowed = {"<|endoftext|>"};
  auto with = t.Encode(text, allowed);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(std::count(with->begin(), with->end(), 100257u), 1);
  EXPECT_EQ(t.Decode(*with), text);
  SpecialTokens strict;
  strict.disallow_all = true;
  EXPECT_FALSE(t.Encode(text, strict).ok());
  EXPECT_TRUE(t.Encode("no specials here", strict).ok());
}

TEST(Tokenizer, DecodeIsTotalAndLoadErrorsNameTheProblem) {
  const Tokenizer& t = Get("gpt2");
  size_t unknown = 0;
  EXPECT_EQ(t.Decode({31373, 4000000000u, 995}, &unknown), "hello world");
  EXPECT_EQ(unknown, 1u);
  EXPECT_EQ(t.Decode({50256}), "<|endoftext|>");
  auto missing = Tokenizer::Load("/nonexistent/x.tiktoken");
  EXPECT_FALSE(missing.ok());
  auto unknown_name = Tokenizer::Load("gpt5");
  EXPECT_FALSE(unknown_name.ok());
  EXPECT_NE(std::string(unknown_name.status().message()).find("not a known encoding"),
            std::string::npos);
}

}  // namespace
}  // namespace winnow::trainer
