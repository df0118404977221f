#include "trainer/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/byte_unicode.h"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;
constexpr TokenId kNoRank = std::numeric_limits<TokenId>::max();

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// tiktoken's special tokens of the named encodings.
std::map<std::string, TokenId> KnownSpecials(std::string_view name) {
  if (name == "gpt2" || name == "r50k_base" || name == "p50k_base") {
    return {{"<|endoftext|>", 50256}};
  }
  if (name == "cl100k_base") {
    return {{"<|endoftext|>", 100257},
            {"<|fim_prefix|>", 100258},
            {"<|fim_middle|>", 100259},
            {"<|fim_suffix|>", 100260},
            {"<|endofprompt|>", 100276}};
  }
  if (name == "o200k_base") return {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
  return {};
}

absl::StatusOr<std::vector<std::string>> ParseTiktoken(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<std::string> tokens;
  std::istringstream in(*text);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::string bytes;
    TokenId rank = 0;
    bool ok = space != std::string::npos && absl::Base64Unescape(line.substr(0, space), &bytes);
    if (ok) {
      char* end = nullptr;
      const unsigned long long value = std::strtoull(line.c_str() + space + 1, &end, 10);
      ok = end != line.c_str() + space + 1 && value < kNoRank;
      rank = static_cast<TokenId>(value);
    }
    if (!ok || bytes.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": not \"BASE64 RANK\""));
    }
    if (rank >= tokens.size()) tokens.resize(rank + 1);
    tokens[rank] = std::move(bytes);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no tokens"));
  return tokens;
}

// Rank file or HF vocabulary → tokens by id, with the GPT-2 byte↔unicode strings decoded.
// Entries named in `special_texts` (a tokenizer.json's added tokens) or spelled <|…|> are specials.
absl::StatusOr<std::vector<std::string>> TokensFromUnicodeVocab(
    const nlohmann::json& vocab, const std::string& origin,
    std::map<std::string, TokenId>* specials, const std::set<std::string>& special_texts = {}) {
  std::vector<std::string> tokens;
  for (const auto& [text, id_json] : vocab.items()) {
    if (!id_json.is_number_unsigned()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": the id of \"", text, "\" is not a number"));
    }
    const TokenId id = id_json.get<TokenId>();
    if (special_texts.contains(text) ||
        (absl::StartsWith(text, "<|") && absl::EndsWith(text, "|>") && text.size() > 4)) {
      (*specials)[text] = id;  // <|endoftext|> and the like
      continue;
    }
    std::string bytes;
    if (!UnicodeToBytes(text, &bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": \"", text, "\" is not in GPT-2's byte-to-unicode alphabet"));
    }
    if (id >= tokens.size()) tokens.resize(id + 1);
    tokens[id] = std::move(bytes);
  }
  return tokens;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadGpt2Folder(const fs::path& dir) {
  absl::StatusOr<std::string> text = ReadFile((dir / "encoder.json").string());
  if (!text.ok()) return text.status();
  const nlohmann::json vocab = nlohmann::json::parse(*text, nullptr, false);
  if (!vocab.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat((dir / "encoder.json").string(), ": not JSON"));
  }
  std::map<std::string, TokenId> specials;
  absl::StatusOr<std::vector<std::string>> tokens =
      TokensFromUnicodeVocab(vocab, (dir / "encoder.json").string(), &specials);
  if (!tokens.ok()) return tokens.status();
  // Specials sit above the ranks, not among them.
  for (const auto& [name, id] : specials) {
    if (id < tokens->size() && (*tokens)[id].empty())
      tokens->resize(std::min<size_t>(tokens->size(), id));
  }
  return Tokenizer::FromRanks("gpt2:" + dir.string(), std::move(*tokens), PretokenPattern::kR50k,
                              specials);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfJson(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadFile(path.string());
  if (!text.ok()) return text.status();
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  const std::string origin = path.string();
  if (!json.is_object() || !json.contains("model") || json["model"].value("type", "") != "BPE") {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a BPE tokenizer.json"));
  }
  std::map<std::string, TokenId> specials;
  std::set<std::string> added_texts;
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    for (const auto& added : json["added_tokens"]) {
      added_texts.insert(added.value("content", ""));
      specials[added.value("content", "")] = added.value("id", 0u);
    }
  }
  absl::StatusOr<std::vector<std::string>> tokens =
      TokensFromUnicodeVocab(json["model"]["vocab"], origin, &specials, added_texts);
  if (!tokens.ok()) return tokens.status();
  for (const auto& [name, id] : specials) {
    if (id < tokens->size() && !(*tokens)[id].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": special token ", name, " shares id ", id, " with a byte token"));
    }
  }
  while (!tokens->empty() && tokens->back().empty()) tokens->pop_back();
  // The pre-tokenizer: a Split with one of the known regexes, or GPT-2's ByteLevel regex.
  PretokenPattern pattern = PretokenPattern::kR50k;
  bool found = false;
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& node) {
    if (node.is_object()) {
      if (node.value("type", "") == "Split" && node.contains("pattern")) {
        const std::string regex =
            node["pattern"].value("Regex", node["pattern"].value("String", ""));
        for (PretokenPattern p :
             {PretokenPattern::kR50k, PretokenPattern::kCl100k, PretokenPattern::kO200k}) {
          // As written, or as tokenizer_files.h spells it for HF's regex engine.
          std::string hf(PretokenPatternRegex(p));
          if (size_t at = hf.find("{1,3}+"); at != std::string::npos) hf.erase(at + 5, 1);
          if (regex == PretokenPatternRegex(p) || regex == hf) {
            pattern = p;
            found = true;
          }
        }
      }
      if (node.value("type", "") == "ByteLevel" && node.value("use_regex", false) && !found) {
        pattern = PretokenPattern::kR50k;
        found = true;
      }
      for (const auto& [k, v] : node.items()) visit(v);
    } else if (node.is_array()) {
      for (const auto& v : node) visit(v);
    }
  };
  visit(json["pre_tokenizer"]);
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": its pre-tokenizer is none of the r50k, cl100k or o200k patterns"));
  }
  // Merge priority must follow the ids (as GPT-2's and our own files do): ranks are ids here.
  if (json["model"].contains("merges") && json["model"]["merges"].is_array()) {
    TokenId last = 0;
    for (const auto& merge : json["model"]["merges"]) {
      std::string a, b;
      if (merge.is_string()) {
        const std::string m = merge.get<std::string>();
        const size_t space = m.find(' ');
        a = m.substr(0, space);
        b = space == std::string::npos ? "" : m.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2) {
        a = merge[0].get<std::string>();
        b = merge[1].get<std::string>();
      }
      auto it = json["model"]["vocab"].find(a + b);
      if (it == json["model"]["vocab"].end()) continue;
      const TokenId id = it->get<TokenId>();
      if (id < last) {
        return absl::InvalidArgumentError(
            absl::StrCat(origin, ": its merges are not in id order (merge ", a, " + ", b,
                         "); only tokenizers whose ids follow merge priority are supported"));
      }
      last = id;
    }
  }
  return Tokenizer::FromRanks(origin, std::move(*tokens), pattern, specials);
}

// A key of the byte tables: its first 8 bytes (zero-padded) and a fast hash of all of it
// (wyhash's multiply-fold mix; equality is always checked).
inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Load32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
constexpr uint64_t kP0 = 0xa0761d6478bd642full, kP1 = 0xe7037ed1a0b428dbull,
                   kP2 = 0x8ebc6af09c88c6e3ull;

struct Key {
  std::string_view bytes;
  uint64_t head;  // bytes 0…7, little-endian, zero past the end
  uint64_t hash;
};

inline Key MakeKey(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t head = 0, tail = 0, seed = kP2;
  if (n >= 8) {
    head = Load64(p);
    if (n > 8) tail = Load64(p + n - 8);
    if (n > 16) {
      for (size_t i = 8; i + 8 < n; i += 8) seed = Mix(Load64(p + i) ^ kP1, seed ^ kP0);
    }
  } else if (n >= 4) {
    head = Load32(p) | (Load32(p + n - 4) << (8 * (n - 4)));  // the overlap is the same bytes
  } else if (n > 0) {
    head = uint64_t{p[0]} | (uint64_t{p[n >> 1]} << (8 * (n >> 1))) |
           (uint64_t{p[n - 1]} << (8 * (n - 1)));
  }
  return {s, head, Mix(head ^ kP1 ^ seed, tail ^ kP0 ^ n)};
}

// An open-addressing index of byte strings kept elsewhere (at most half full). Each 16-byte slot
// holds a string's first 8 bytes, its length (255 for longer), a hash tag and an index, so most
// lookups touch one cache line; `rest_equal(index)` compares the bytes past the 8th (and the
// exact length past 254).
struct ByteIndex {
  struct Slot {
    uint64_t head;
    uint32_t index;  // kNoRank: empty
    uint32_t meta;   // hash tag << 8 | min(length, 255)
  };
  std::vector<Slot> slots;
  uint64_t mask = 0;

  static uint32_t Meta(const Key& key) {
    return (static_cast<uint32_t>(key.hash >> 40) << 8) |
           static_cast<uint32_t>(std::min<size_t>(key.bytes.size(), 255));
  }
  void Reset(size_t entries) {
    size_t capacity = 16;
    while (capacity < entries * 2) capacity *= 2;
    slots.assign(capacity, Slot{0, kNoRank, 0});
    mask = capacity - 1;
  }
  void Clear() { std::fill(slots.begin(), slots.end(), Slot{0, kNoRank, 0}); }
  template <typename RestEqual>
  uint32_t Find(const Key& key, const RestEqual& rest_equal) const {
    const uint32_t meta = Meta(key);
    for (uint64_t i = key.hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots[i];
      if (slot.index == kNoRank) return kNoRank;
      if (slot.meta == meta && slot.head == key.head &&
          (key.bytes.size() <= 8 || rest_equal(slot.index))) {
        return slot.index;
      }
    }
  }
  void Insert(const Key& key, uint32_t index) {  // the key must be absent
    uint64_t i = key.hash & mask;
    while (slots[i].index != kNoRank) i = (i + 1) & mask;
    slots[i] = {key.head, index, Meta(key)};
  }
};

// Whether `stored` (a string whose first 8 bytes and length, up to 255, match the key's) is the
// key: the rest of the bytes.
inline bool RestEqual(const Key& key, std::string_view stored) {
  return stored.size() == key.bytes.size() &&
         std::memcmp(stored.data() + 8, key.bytes.data() + 8, key.bytes.size() - 8) == 0;
}

std::atomic<uint64_t> next_ranks_id{1};

}  // namespace

// Every token's bytes in one string (by rank) and an index of them.
struct Tokenizer::Ranks {
  uint64_t id = next_ranks_id.fetch_add(1);
  std::string bytes;
  std::vector<uint32_t> start;  // rank r is bytes[start[r], start[r + 1]); empty: no token
  ByteIndex index;
  std::array<TokenId, 256> byte_rank{};

  std::string_view Bytes(TokenId r) const {
    return std::string_view(bytes).substr(start[r], start[r + 1] - start[r]);
  }
  TokenId Find(const Key& key) const {
    return index.Find(key, [&](uint32_t r) { return RestEqual(key, Bytes(r)); });
  }
  TokenId Find(std::string_view bytes) const { return Find(MakeKey(bytes)); }
};

namespace {

// A per-thread cache of piece → tokens for pieces that are not one token (words, numbers and
// spaces repeat). Keyed by the Ranks' id; emptied when full.
struct PieceCache {
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxPiece = 128;
  uint64_t owner = 0;
  ByteIndex index;
  struct Entry {
    uint32_t bytes_at, size, tokens_at, count;
  };
  std::vector<Entry> entries;
  std::string bytes;
  std::vector<TokenId> tokens;

  void Reset(uint64_t id) {
    owner = id;
    if (index.slots.empty()) {
      index.Reset(kMaxEntries);
    } else {
      index.Clear();
    }
    entries.clear();
    bytes.clear();
    tokens.clear();
  }
  // Appends the cached tokens of the piece to `out`; false when absent.
  bool Get(const Key& key, std::vector<TokenId>* out) const {
    const uint32_t at = index.Find(key, [&](uint32_t e) {
      return RestEqual(key, std::string_view(bytes).substr(entries[e].bytes_at, entries[e].size));
    });
    if (at == kNoRank) return false;
    const Entry& e = entries[at];
    out->insert(out->end(), tokens.begin() + e.tokens_at, tokens.begin() + e.tokens_at + e.count);
    return true;
  }
  void Put(const Key& key, const TokenId* ids, size_t count) {
    if (entries.size() >= kMaxEntries) Reset(owner);
    index.Insert(key, static_cast<uint32_t>(entries.size()));
    entries.push_back({static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(key.bytes.size()),
                       static_cast<uint32_t>(tokens.size()), static_cast<uint32_t>(count)});
    bytes.append(key.bytes);
    tokens.insert(tokens.end(), ids, ids + count);
  }
};

}  // namespace

std::string TokenizerAssetsDir() {
  if (const char* dir = std::getenv("WINNOW_ASSETS_DIR"); dir != nullptr && *dir != '\0') {
    return (fs::path(dir) / "tokenizers").string();
  }
#ifdef WINNOW_DEFAULT_ASSETS_DIR
  return (fs::path(WINNOW_DEFAULT_ASSETS_DIR) / "tokenizers").string();
#else
  return "../shared/data/tokenizers";
#endif
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromRanks(
    std::string name, std::vector<std::string> tokens_by_id, PretokenPattern pattern,
    std::map<std::string, TokenId> specials) {
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());
  t->name_ = std::move(name);
  t->pattern_ = pattern;
  t->tokens_ = std::move(tokens_by_id);
  auto ranks = std::make_shared<Ranks>();
  size_t total = 0, count = 0;
  for (const std::string& token : t->tokens_) {
    total += token.size();
    count += token.empty() ? 0 : 1;
  }
  if (total >= kNoRank || t->tokens_.size() >= kNoRank) {
    return absl::InvalidArgumentError(absl::StrCat(t->name_, ": too many token bytes"));
  }
  ranks->bytes.reserve(total);
  ranks->start.reserve(t->tokens_.size() + 1);
  ranks->index.Reset(count);
  for (TokenId id = 0; id < t->tokens_.size(); ++id) {
    const std::string& token = t->tokens_[id];
    ranks->start.push_back(static_cast<uint32_t>(ranks->bytes.size()));
    ranks->bytes += token;
  }
  ranks->start.push_back(static_cast<uint32_t>(ranks->bytes.size()));
  for (TokenId id = 0; id < t->tokens_.size(); ++id) {
    const std::string& token = t->tokens_[id];
    if (token.empty()) continue;
    const Key key = MakeKey(token);
    if (ranks->Find(key) != kNoRank) {
      return absl::InvalidArgumentError(
          absl::StrCat(t->name_, ": two ids for the same bytes (id ", id, ")"));
    }
    ranks->index.Insert(key, id);
  }
  for (int b = 0; b < 256; ++b) {
    const TokenId r = ranks->Find(std::string(1, static_cast<char>(b)));
    if (r == kNoRank) {
      return absl::InvalidArgumentError(
          absl::StrCat(t->name_, ": byte ", b, " has no token: not a byte-level vocabulary"));
    }
    ranks->byte_rank[b] = r;
  }
  t->ranks_ = std::move(ranks);
  t->specials_ = std::move(specials);
  for (const auto& [text, id] : t->specials_) {
    if (id < t->tokens_.size() && !t->tokens_[id].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(t->name_, ": special ", text, " has the id of an ordinary token"));
    }
    t->special_bytes_[id] = text;
  }
  return t;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& spec) {
  std::error_code ec;
  // A named encoding.
  for (const char* name : {"gpt2", "r50k_base", "p50k_base", "cl100k_base", "o200k_base"}) {
    if (spec != name) continue;
    const fs::path dir = TokenizerAssetsDir();
    const std::string file = spec == "gpt2" ? "r50k_base" : spec;
    absl::StatusOr<std::vector<std::string>> tokens =
        ParseTiktoken((dir / (file + ".tiktoken")).string());
    if (!tokens.ok()) return tokens.status();
    PretokenPattern pattern;
    ParsePretokenPattern(spec, &pattern);
    return FromRanks(spec, std::move(*tokens), pattern, KnownSpecials(spec));
  }
  std::string path = spec;
  std::string pattern_name;
  if (const size_t colon = spec.rfind(':');
      colon != std::string::npos && absl::StrContains(spec.substr(0, colon), ".tiktoken")) {
    path = spec.substr(0, colon);
    pattern_name = spec.substr(colon + 1);
  }
  if (absl::EndsWith(path, ".tiktoken")) {
    const std::string stem = fs::path(path).stem().string();
    PretokenPattern pattern = PretokenPattern::kCl100k;
    // A rank file `winnow tokenizer train` wrote has its pattern and specials beside it.
    const fs::path meta_path = fs::path(path).parent_path() / "winnow_tokenizer.json";
    nlohmann::json meta;
    if (fs::exists(meta_path, ec)) {
      absl::StatusOr<std::string> text = ReadFile(meta_path.string());
      if (text.ok()) meta = nlohmann::json::parse(*text, nullptr, false);
    }
    if (pattern_name.empty() && meta.is_object() && meta.contains("pattern") &&
        meta["pattern"].is_string()) {
      pattern_name = meta["pattern"].get<std::string>();
    }
    if (!pattern_name.empty() ? !ParsePretokenPattern(pattern_name, &pattern)
                              : !ParsePretokenPattern(stem, &pattern)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer ", spec,
                       ": say which pre-tokenization it uses: PATH.tiktoken:r50k|cl100k|o200k"));
    }
    absl::StatusOr<std::vector<std::string>> tokens = ParseTiktoken(path);
    if (!tokens.ok()) return tokens.status();
    std::map<std::string, TokenId> specials = KnownSpecials(stem);
    if (specials.empty() && meta.is_object() && meta.contains("specials")) {
      for (const auto& [k, v] : meta["specials"].items()) specials[k] = v.get<TokenId>();
    }
    return FromRanks(stem, std::move(*tokens), pattern, specials);
  }
  if (absl::EndsWith(path, "tokenizer.json")) return LoadHfJson(path);
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "tokenizer.json", ec)) {
      return LoadHfJson(fs::path(path) / "tokenizer.json");
    }
    if (fs::exists(fs::path(path) / "encoder.json", ec)) return LoadGpt2Folder(path);
    return absl::NotFoundError(
        absl::StrCat("tokenizer ", spec,
                     ": the folder has neither tokenizer.json nor encoder.json + vocab.bpe"));
  }
  return absl::NotFoundError(absl::StrCat(
      "tokenizer ", spec,
      ": not a known encoding (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base), a "
      ".tiktoken file, a tokenizer.json or a folder with one"));
}

size_t Tokenizer::vocab_size() const {
  size_t size = tokens_.size();
  for (const auto& [text, id] : specials_) size = std::max<size_t>(size, id + 1);
  return size;
}

std::optional<TokenId> Tokenizer::eot() const {
  auto it = specials_.find("<|endoftext|>");
  if (it == specials_.end()) return std::nullopt;
  return it->second;
}

std::optional<TokenId> Tokenizer::Rank(std::string_view bytes) const {
  const TokenId r = ranks_->Find(bytes);
  if (r == kNoRank) return std::nullopt;
  return r;
}

std::string_view Tokenizer::TokenBytes(TokenId id) const {
  if (id < tokens_.size()) return tokens_[id];
  auto it = special_bytes_.find(id);
  if (it != special_bytes_.end()) return it->second;
  return {};
}

namespace {

// tiktoken's byte-pair merge of one piece: starting from its bytes, merge the adjacent pair whose
// bytes have the lowest rank (the leftmost on ties) until no pair is a token; appends the ranks.
// `find` gives the rank of some bytes or kNoRank.
template <typename Find>
void MergeSmall(std::string_view piece, const std::array<TokenId, 256>& byte_rank, const Find& find,
                std::vector<TokenId>* out) {
  // Part i starts at start[i]; rank[i] is the rank of part i joined with part i + 1; id[i] its
  // token. Erasing shifts the arrays (pieces here are short).
  thread_local std::vector<uint32_t> start;
  thread_local std::vector<TokenId> rank, id;
  const size_t n = piece.size();
  start.resize(n + 1);
  rank.resize(n + 1);
  id.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) start[i] = static_cast<uint32_t>(i);
  for (size_t i = 0; i < n; ++i) id[i] = byte_rank[static_cast<unsigned char>(piece[i])];
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = find(piece.substr(i, 2));
  rank[n - 1] = rank[n] = kNoRank;
  size_t parts = n;
  const auto pair_rank = [&](size_t i) {
    return i + 2 <= parts ? find(piece.substr(start[i], start[i + 2] - start[i])) : kNoRank;
  };
  while (parts > 1) {
    TokenId best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts; ++i) {
      if (rank[i] < best) {
        best = rank[i];
        at = i;
      }
    }
    if (best == kNoRank) break;
    id[at] = best;
    for (size_t i = at + 1; i < parts; ++i) {
      start[i] = start[i + 1];
      rank[i] = rank[i + 1];
      id[i] = id[i + 1];
    }
    --parts;
    rank[at] = pair_rank(at);
    if (at > 0) rank[at - 1] = pair_rank(at - 1);
  }
  out->insert(out->end(), id.begin(), id.begin() + static_cast<std::ptrdiff_t>(parts));
}

// The same merge for long pieces in O(n log n): a heap of (rank, left part's start, pair's end),
// entries checked against the current parts when popped.
template <typename Find>
void MergeLarge(std::string_view piece, const std::array<TokenId, 256>& byte_rank, const Find& find,
                std::vector<TokenId>* out) {
  struct Pair {
    TokenId rank;
    uint32_t left, end;
    bool operator>(const Pair& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const uint32_t n = static_cast<uint32_t>(piece.size());
  thread_local std::vector<uint32_t> next, prev;
  thread_local std::vector<TokenId> id;
  thread_local std::vector<Pair> heap;
  next.resize(n + 1);
  prev.resize(n + 1);
  id.resize(n);
  heap.clear();
  for (uint32_t i = 0; i <= n; ++i) {
    next[i] = i + 1;
    prev[i] = i - 1;  // prev[0] wraps: no part before the first
  }
  const auto push = [&](uint32_t left, uint32_t end) {
    const TokenId r = find(piece.substr(left, end - left));
    if (r == kNoRank) return;
    heap.push_back({r, left, end});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (uint32_t i = 0; i < n; ++i) id[i] = byte_rank[static_cast<unsigned char>(piece[i])];
  for (uint32_t i = 0; i + 1 < n; ++i) push(i, i + 2);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Pair p = heap.back();
    heap.pop_back();
    const uint32_t right = next[p.left];
    // Stale: the left part was merged into its neighbour, or either part has grown since.
    if (id[p.left] == kNoRank || right >= n || next[right] != p.end) continue;
    id[right] = kNoRank;  // merged away
    id[p.left] = p.rank;
    next[p.left] = p.end;
    if (p.end < n) prev[p.end] = p.left;
    if (p.left > 0) push(prev[p.left], p.end);
    if (p.end < n) push(p.left, next[p.end]);
  }
  for (uint32_t i = 0; i < n; i = next[i]) out->push_back(id[i]);
}

}  // namespace

namespace {

// The tokens of one piece (a template only so that it can take the private Ranks type).
template <typename RanksT>
void EncodeKey(const RanksT& ranks, const Key& key, std::vector<TokenId>* out) {
  if (key.bytes.empty()) return;
  if (const TokenId r = ranks.Find(key); r != kNoRank) {
    out->push_back(r);
    return;
  }
  thread_local PieceCache cache;
  const bool cacheable = key.bytes.size() <= PieceCache::kMaxPiece;
  if (cacheable) {
    if (cache.owner != ranks.id) cache.Reset(ranks.id);
    if (cache.Get(key, out)) return;
  }
  const size_t first = out->size();
  const auto find = [&](std::string_view bytes) { return ranks.Find(bytes); };
  if (key.bytes.size() <= 256) {
    MergeSmall(key.bytes, ranks.byte_rank, find, out);
  } else {
    MergeLarge(key.bytes, ranks.byte_rank, find, out);
  }
  if (cacheable) cache.Put(key, out->data() + first, out->size() - first);
}

}  // namespace

void Tokenizer::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  EncodeKey(*ranks_, MakeKey(piece), out);
}

void Tokenizer::EncodeOrdinaryInto(std::string_view text, std::vector<TokenId>* out,
                                   size_t* last_piece_tokens) const {
  thread_local std::vector<std::string_view> pieces;
  pieces.clear();
  Pretokenize(text, pattern_, &pieces);
  // Each piece's first lookup is a cache miss in a table of megabytes: hash pieces a few ahead
  // and prefetch their slots.
  constexpr size_t kAhead = 8;
  Key keys[kAhead];
  const Ranks& ranks = *ranks_;
  const auto prepare = [&](size_t i) {
    keys[i % kAhead] = MakeKey(pieces[i]);
    __builtin_prefetch(&ranks.index.slots[keys[i % kAhead].hash & ranks.index.mask]);
  };
  for (size_t i = 0; i < kAhead && i < pieces.size(); ++i) prepare(i);
  size_t before = out->size();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Key key = keys[i % kAhead];
    if (i + kAhead < pieces.size()) prepare(i + kAhead);
    before = out->size();
    EncodeKey(ranks, key, out);
  }
  if (last_piece_tokens != nullptr) *last_piece_tokens = pieces.empty() ? 0 : out->size() - before;
}

std::vector<TokenId> Tokenizer::EncodeOrdinary(std::string_view text) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  EncodeOrdinaryInto(text, &out, nullptr);
  return out;
}

absl::StatusOr<std::vector<TokenId>> Tokenizer::Encode(std::string_view text,
                                                       const SpecialTokens& special) const {
  // Which specials become ids, which are errors.
  std::vector<std::pair<std::string_view, TokenId>> allowed;
  for (const auto& [name, id] : specials_) {
    const bool allow =
        special.allow_all ||
        std::find(special.allowed.begin(), special.allowed.end(), name) != special.allowed.end();
    if (allow) {
      allowed.emplace_back(name, id);
      continue;
    }
    const bool disallow = special.disallow_all ||
                          std::find(special.disallowed.begin(), special.disallowed.end(), name) !=
                              special.disallowed.end();
    if (disallow && text.find(name) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("the text contains the special token ", name,
                       ", which is disallowed (allow it, or encode it as ordinary text)"));
    }
  }
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  size_t start = 0;
  while (start <= text.size()) {
    // The leftmost allowed special from `start` (the first listed wins at the same place).
    size_t found = std::string_view::npos;
    TokenId found_id = 0;
    size_t found_len = 0;
    for (const auto& [name, id] : allowed) {
      const size_t at = text.find(name, start);
      if (at < found) {
        found = at;
        found_id = id;
        found_len = name.size();
      }
    }
    EncodeOrdinaryInto(
        text.substr(start, found == std::string_view::npos ? text.size() - start : found - start),
        &out, nullptr);
    if (found == std::string_view::npos) break;
    out.push_back(found_id);
    start = found + found_len;
  }
  return out;
}

std::vector<TokenId> Tokenizer::EncodeBytes(std::string_view bytes) const {
  // The longest valid UTF-8 prefix.
  size_t valid = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  while (valid < bytes.size()) {
    const unsigned char b = s[valid];
    size_t len = b < 0x80                   ? 1
                 : (b >= 0xC2 && b <= 0xDF) ? 2
                 : (b >= 0xE0 && b <= 0xEF) ? 3
                 : (b >= 0xF0 && b <= 0xF4) ? 4
                                            : 0;
    if (len == 0 || valid + len > bytes.size()) break;
    uint32_t cp = len == 1 ? b : (b & (0xFF >> (len + 1)));
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      ok &= (s[valid + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[valid + k] & 0x3F);
    }
    if (!ok || (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      break;
    }
    valid += len;
  }
  std::vector<TokenId> tokens;
  size_t last = 0;
  EncodeOrdinaryInto(bytes.substr(0, valid), &tokens, &last);
  if (valid == bytes.size()) return tokens;
  // As tiktoken: widen the last piece over trailing all-whitespace tokens, then BPE that piece's
  // bytes together with the invalid rest.
  const auto all_space = [&](TokenId id) {
    const std::string_view b = TokenBytes(id);
    return std::all_of(b.begin(), b.end(),
                       [](char c) { return c == ' ' || c == '\n' || c == '\t'; });
  };
  if (last > 0 && all_space(tokens[tokens.size() - last])) {
    while (last < tokens.size() && all_space(tokens[tokens.size() - last - 1])) ++last;
  }
  std::string unstable;
  if (last > 0) {
    for (size_t i = tokens.size() - last; i < tokens.size(); ++i) unstable += TokenBytes(tokens[i]);
    tokens.resize(tokens.size() - last);
  }
  unstable.append(bytes.substr(valid));
  EncodePiece(unstable, &tokens);
  return tokens;
}

std::string Tokenizer::Decode(const std::vector<TokenId>& ids, size_t* unknown) const {
  std::string out;
  size_t missing = 0;
  for (TokenId id : ids) {
    const std::string_view bytes = TokenBytes(id);
    if (bytes.empty()) ++missing;
    out.append(bytes);
  }
  if (unknown != nullptr) *unknown = missing;
  return out;
}

}  // namespace winnow::trainer
