#include "trainer/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
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

// Debian's abseil has its own string_view: hash-map lookups need one.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

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
absl::StatusOr<std::vector<std::string>> TokensFromUnicodeVocab(
    const nlohmann::json& vocab, const std::string& origin,
    std::map<std::string, TokenId>* specials) {
  std::vector<std::string> tokens;
  for (const auto& [text, id_json] : vocab.items()) {
    if (!id_json.is_number_unsigned()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": the id of \"", text, "\" is not a number"));
    }
    const TokenId id = id_json.get<TokenId>();
    if (absl::StartsWith(text, "<|") && absl::EndsWith(text, "|>") && text.size() > 4) {
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
  absl::StatusOr<std::vector<std::string>> tokens =
      TokensFromUnicodeVocab(json["model"]["vocab"], origin, &specials);
  if (!tokens.ok()) return tokens.status();
  if (json.contains("added_tokens") && json["added_tokens"].is_array()) {
    for (const auto& added : json["added_tokens"]) {
      specials[added.value("content", "")] = added.value("id", 0u);
    }
  }
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
          if (regex == PretokenPatternRegex(p)) {
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

// A small per-thread cache of piece → tokens (pieces repeat: words, spaces).
struct PieceCache {
  const void* owner = nullptr;
  absl::flat_hash_map<std::string, std::vector<TokenId>> entries;
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
  t->ranks_.reserve(t->tokens_.size());
  for (TokenId id = 0; id < t->tokens_.size(); ++id) {
    if (t->tokens_[id].empty()) continue;
    if (!t->ranks_.emplace(t->tokens_[id], id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(t->name_, ": two ids for the same bytes (id ", id, ")"));
    }
  }
  for (int b = 0; b < 256; ++b) {
    if (!t->ranks_.contains(std::string(1, static_cast<char>(b)))) {
      return absl::InvalidArgumentError(
          absl::StrCat(t->name_, ": byte ", b, " has no token: not a byte-level vocabulary"));
    }
  }
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
    if (!pattern_name.empty() ? !ParsePretokenPattern(pattern_name, &pattern)
                              : !ParsePretokenPattern(stem, &pattern)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer ", spec,
                       ": say which pre-tokenization it uses: PATH.tiktoken:r50k|cl100k|o200k"));
    }
    absl::StatusOr<std::vector<std::string>> tokens = ParseTiktoken(path);
    if (!tokens.ok()) return tokens.status();
    std::map<std::string, TokenId> specials = KnownSpecials(stem);
    // A rank file `winnow tokenizer train` wrote has its specials beside it.
    const fs::path meta = fs::path(path).parent_path() / "winnow_tokenizer.json";
    if (specials.empty() && fs::exists(meta, ec)) {
      absl::StatusOr<std::string> text = ReadFile(meta.string());
      const nlohmann::json json =
          text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
      if (json.is_object() && json.contains("specials")) {
        for (const auto& [k, v] : json["specials"].items()) specials[k] = v.get<TokenId>();
      }
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
  auto it = ranks_.find(AV(bytes));
  if (it == ranks_.end()) return std::nullopt;
  return it->second;
}

std::string_view Tokenizer::TokenBytes(TokenId id) const {
  if (id < tokens_.size()) return tokens_[id];
  auto it = special_bytes_.find(id);
  if (it != special_bytes_.end()) return it->second;
  return {};
}

void Tokenizer::EncodePiece(std::string_view piece, std::vector<TokenId>* out) const {
  if (piece.empty()) return;
  if (auto it = ranks_.find(AV(piece)); it != ranks_.end()) {
    out->push_back(it->second);
    return;
  }
  thread_local PieceCache cache;
  const bool cacheable = piece.size() <= 64;
  if (cacheable) {
    if (cache.owner != this || cache.entries.size() > (1u << 16)) {
      cache.entries.clear();
      cache.owner = this;
    }
    if (auto it = cache.entries.find(AV(piece)); it != cache.entries.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  // Boundaries with the rank of the pair starting at each; merge the lowest (leftmost on ties).
  struct Part {
    size_t start;
    TokenId rank;
  };
  thread_local std::vector<Part> parts;
  parts.clear();
  const auto pair_rank = [&](size_t i) -> TokenId {
    if (i + 2 >= parts.size()) return kNoRank;
    auto it = ranks_.find(AV(piece.substr(parts[i].start, parts[i + 2].start - parts[i].start)));
    return it == ranks_.end() ? kNoRank : it->second;
  };
  for (size_t i = 0; i <= piece.size(); ++i) parts.push_back({i, kNoRank});
  for (size_t i = 0; i + 2 < parts.size(); ++i) parts[i].rank = pair_rank(i);
  while (parts.size() > 2) {
    TokenId best = kNoRank;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].rank < best) {
        best = parts[i].rank;
        at = i;
      }
    }
    if (best == kNoRank) break;
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    parts[at].rank = pair_rank(at);
    if (at > 0) parts[at - 1].rank = pair_rank(at - 1);
  }
  const size_t first = out->size();
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    out->push_back(
        ranks_.at(AV(piece.substr(parts[i].start, parts[i + 1].start - parts[i].start))));
  }
  if (cacheable) {
    cache.entries.emplace(
        std::string(piece),
        std::vector<TokenId>(out->begin() + static_cast<std::ptrdiff_t>(first), out->end()));
  }
}

void Tokenizer::EncodeOrdinaryInto(std::string_view text, std::vector<TokenId>* out,
                                   size_t* last_piece_tokens) const {
  thread_local std::vector<std::string_view> pieces;
  pieces.clear();
  Pretokenize(text, pattern_, &pieces);
  size_t before = out->size();
  for (std::string_view piece : pieces) {
    before = out->size();
    EncodePiece(piece, out);
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
