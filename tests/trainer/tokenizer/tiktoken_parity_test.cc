// Token-exact parity with tiktoken on real and adversarial text: testdata/tiktoken_golden.jsonl.gz
// holds tiktoken's encode_ordinary ids for r50k_base, p50k_base, cl100k_base and o200k_base
// (written by tests/tools/tiktoken_golden.py from the rank files in ../shared/data/tokenizers).
// With WINNOW_TIKTOKEN_GOLDEN set, the same check runs on that file instead (the tool's --fuzz and
// --full modes use it).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/pretokenizer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::trainer {
namespace {

// The whole file, gunzipped (through gzip(1): this test binary does not link zlib).
bool ReadMaybeGzip(const std::string& path, std::string* out) {
  FILE* f = nullptr;
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz) {
    if (FILE* probe = std::fopen(path.c_str(), "rb"); probe != nullptr) {
      std::fclose(probe);
    } else {
      return false;
    }
    std::string quoted = "'";
    for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    f = popen(("gzip -dc " + quoted).c_str(), "r");
  } else {
    f = std::fopen(path.c_str(), "rb");
  }
  if (f == nullptr) return false;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out->append(buf, n);
  const int rc = gz ? pclose(f) : std::fclose(f);
  return rc == 0;
}

// Printable, unambiguous: ASCII as is (controls escaped), the rest as \u{XXXX}.
std::string Show(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '\n') {
        out += "\\n";
      } else if (b == '\r') {
        out += "\\r";
      } else if (b == '\t') {
        out += "\\t";
      } else if (b == '\\') {
        out += "\\\\";
      } else if (b < 0x20 || b == 0x7F) {
        out += absl::StrCat("\\x", absl::Hex(b, absl::kZeroPad2));
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    const size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (len == 1 || i + len > s.size()) {
      out += absl::StrCat("\\x", absl::Hex(b, absl::kZeroPad2));
      ++i;
      continue;
    }
    uint32_t cp = b & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out += absl::StrCat("\\u{", absl::Hex(cp), "}");
    i += len;
  }
  return out;
}

std::string ShowTokens(const Tokenizer& t, const std::vector<TokenId>& ids, size_t from,
                       size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < ids.size(); ++i) {
    absl::StrAppend(&out, i == from ? "" : " | ", Show(t.TokenBytes(ids[i])));
  }
  return out;
}

// Where two token sequences of the same text first part: the token index and its byte offset.
void FirstDifference(const Tokenizer& t, const std::vector<TokenId>& a,
                     const std::vector<TokenId>& b, size_t* index, size_t* offset) {
  size_t i = 0, off = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) off += t.TokenBytes(a[i++]).size();
  *index = i;
  *offset = off;
}

const Tokenizer& Get(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& t = loaded[name];
  if (t == nullptr) {
    auto result = Tokenizer::Load(name);
    if (!result.ok()) {
      ADD_FAILURE() << result.status();
      std::abort();
    }
    t = std::move(*result);
  }
  return *t;
}

TEST(TiktokenParity, MatchesGoldenFile) {
  const char* env = std::getenv("WINNOW_TIKTOKEN_GOLDEN");
  const std::string path = env != nullptr && *env != '\0'
                               ? std::string(env)
                               : std::string(WINNOW_SOURCE_DIR) +
                                     "/tests/trainer/tokenizer/testdata/tiktoken_golden.jsonl.gz";
  std::string data;
  ASSERT_TRUE(ReadMaybeGzip(path, &data))
      << path << " is missing or unreadable (python3 tests/tools/tiktoken_golden.py writes it)";

  struct Counts {
    size_t texts = 0, bytes = 0, tokens = 0, mismatches = 0, decode_mismatches = 0;
  };
  std::map<std::string, Counts> counts;
  std::map<std::string, std::ostringstream> reports;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    if (end == start) {
      ++start;
      continue;
    }
    const nlohmann::json line = nlohmann::json::parse(data.begin() + start, data.begin() + end);
    start = end + 1;
    const std::string name = line["encoding"].get<std::string>();
    const std::string text = line["text"].get<std::string>();
    const std::vector<TokenId> want = line["ids"].get<std::vector<TokenId>>();
    const Tokenizer& t = Get(name);
    Counts& c = counts[name];
    ++c.texts;
    c.bytes += text.size();
    c.tokens += want.size();
    if (t.Decode(want) != text) ++c.decode_mismatches;
    const std::vector<TokenId> got = t.EncodeOrdinary(text);
    if (got == want) continue;
    if (++c.mismatches > 5) continue;
    size_t index = 0, offset = 0;
    FirstDifference(t, got, want, &index, &offset);
    const size_t from = index >= 3 ? index - 3 : 0;
    std::vector<std::string_view> pieces;
    Pretokenize(text, t.pattern(), &pieces);
    std::string around;
    size_t at = 0;
    for (std::string_view p : pieces) {
      const size_t p_end = at + p.size();
      if (p_end + 16 > offset && at < offset + 32) {
        absl::StrAppend(&around, around.empty() ? "" : " | ", Show(p));
      }
      at = p_end;
    }
    reports[name] << name << " [" << line.value("source", "?") << "] text \""
                  << Show(text.size() > 400 ? text.substr(offset > 100 ? offset - 100 : 0, 300)
                                            : text)
                  << "\"\n  first difference at token " << index << " (byte " << offset << ")\n"
                  << "  tiktoken: " << ShowTokens(t, want, from, index + 6) << "\n"
                  << "  ours:     " << ShowTokens(t, got, from, index + 6) << "\n"
                  << "  our pieces there: " << around << "\n";
  }
  ASSERT_FALSE(counts.empty()) << path << " has no lines";
  std::ostringstream summary;
  for (const auto& [name, c] : counts) {
    summary << name << ": " << c.texts << " texts, " << c.bytes << " bytes, " << c.tokens
            << " tokens, " << c.mismatches << " encode mismatches, " << c.decode_mismatches
            << " decode mismatches\n";
  }
  std::printf("%s", summary.str().c_str());
  for (const auto& [name, c] : counts) {
    EXPECT_EQ(c.mismatches, 0u) << name << " (first few):\n" << reports[name].str();
    EXPECT_EQ(c.decode_mismatches, 0u) << name;
  }
}

// The per-thread piece cache belongs to one tokenizer: a tokenizer allocated where a freed one
// lived must not see the freed one's cached pieces (they were keyed by address once).
TEST(TiktokenParity, FreshTokenizersNeverSeeAnothersCachedPieces) {
  const std::string text =
      "Floccinaucinihilipilification, antidisestablishmentarianism and 1234567 zyxwvut qqq";
  std::map<std::string, std::vector<TokenId>> want;
  for (const char* name : {"r50k_base", "cl100k_base", "o200k_base"}) {
    want[name] = Get(name).EncodeOrdinary(text);
  }
  ASSERT_NE(want["r50k_base"], want["cl100k_base"]);
  for (int round = 0; round < 4; ++round) {
    for (const char* name : {"r50k_base", "cl100k_base", "o200k_base"}) {
      auto fresh = Tokenizer::Load(name);
      ASSERT_TRUE(fresh.ok()) << fresh.status();
      EXPECT_EQ((*fresh)->EncodeOrdinary(text), want[name]) << name << " round " << round;
    }
  }
}

}  // namespace
}  // namespace winnow::trainer
