#include "trainer/tokenizer/tokenizer_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/byte_unicode.h"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;
constexpr TokenId kNoRank = std::numeric_limits<TokenId>::max();

absl::Status WriteFile(const fs::path& path, const std::string& contents) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", temp.string()));
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temp.string(), " to ", path.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string HfPretokenRegex(PretokenPattern pattern) {
  std::string regex(PretokenPatternRegex(pattern));
  for (size_t at; (at = regex.find("{1,3}+")) != std::string::npos;) regex.erase(at + 5, 1);
  return regex;
}

std::vector<TokenMerge> RecoverMerges(const Tokenizer& t, size_t* unreachable) {
  std::vector<TokenMerge> merges;
  size_t missing = 0;
  std::vector<size_t> bounds;  // part i is bytes [bounds[i], bounds[i+1])
  for (TokenId id = 0; id < t.num_ranks(); ++id) {
    const std::string_view bytes = t.TokenBytes(id);
    if (bytes.size() < 2) continue;
    bounds.clear();
    for (size_t i = 0; i <= bytes.size(); ++i) bounds.push_back(i);
    const auto rank_of = [&](size_t i) -> TokenId {  // of parts i and i+1 joined
      const std::optional<TokenId> r = t.Rank(bytes.substr(bounds[i], bounds[i + 2] - bounds[i]));
      return r.has_value() && *r < id ? *r : kNoRank;
    };
    // BPE with ranks below `id`: join the lowest-ranked adjacent pair (leftmost on ties).
    while (bounds.size() > 3) {
      TokenId best = kNoRank;
      size_t at = 0;
      for (size_t i = 0; i + 2 < bounds.size(); ++i) {
        const TokenId r = rank_of(i);
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (best == kNoRank) break;
      bounds.erase(bounds.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    if (bounds.size() != 3) {
      ++missing;
      continue;
    }
    const std::optional<TokenId> left = t.Rank(bytes.substr(0, bounds[1]));
    const std::optional<TokenId> right = t.Rank(bytes.substr(bounds[1]));
    merges.push_back({*left, *right, id});
  }
  if (unreachable != nullptr) *unreachable = missing;
  return merges;
}

absl::StatusOr<std::string> HfTokenizerJson(const Tokenizer& t,
                                            const std::vector<TokenMerge>& merges) {
  using Json = nlohmann::ordered_json;
  const auto quote = [](std::string_view text) {
    return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  // Written by hand, one vocabulary entry and one merge a line (a Json object of 200k keys is
  // slow to build), in id order.
  std::string vocab;
  absl::flat_hash_map<std::string, TokenId> spelled;
  for (TokenId id = 0; id < t.num_ranks(); ++id) {
    const std::string_view bytes = t.TokenBytes(id);
    if (bytes.empty()) continue;
    std::string text = BytesToUnicode(bytes);
    absl::StrAppend(&vocab, vocab.empty() ? "\n" : ",\n", "      ", quote(text), ": ", id);
    spelled.emplace(std::move(text), id);
  }
  // Specials by id, in the vocabulary too: HF numbers added tokens the model lacks from the
  // model's size up, which would move ids past a gap (cl100k's 100256).
  std::vector<std::pair<TokenId, std::string>> specials;
  for (const auto& [text, id] : t.specials()) specials.emplace_back(id, text);
  std::sort(specials.begin(), specials.end());
  Json added = Json::array();
  for (const auto& [id, text] : specials) {
    if (spelled.contains(text)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "special token ", text, " is spelled like an ordinary token in tokenizer.json"));
    }
    absl::StrAppend(&vocab, vocab.empty() ? "\n" : ",\n", "      ", quote(text), ": ", id);
    added.push_back({{"id", id},
                     {"content", text},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  std::string merge_list;
  for (const TokenMerge& m : merges) {
    absl::StrAppend(&merge_list, merge_list.empty() ? "\n" : ",\n", "      [",
                    quote(BytesToUnicode(t.TokenBytes(m.left))), ", ",
                    quote(BytesToUnicode(t.TokenBytes(m.right))), "]");
  }
  const Json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", true},
                           {"use_regex", false}};
  const Json pre_tokenizer = {
      {"type", "Sequence"},
      {"pretokenizers", Json::array({{{"type", "Split"},
                                      {"pattern", {{"Regex", HfPretokenRegex(t.pattern())}}},
                                      {"behavior", "Isolated"},
                                      {"invert", false}},
                                     byte_level})}};
  const Json post_processor = {{"type", "ByteLevel"},
                               {"add_prefix_space", false},
                               {"trim_offsets", false},
                               {"use_regex", false}};
  const auto dump = [](const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  return absl::StrCat(
      "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n",
      "  \"added_tokens\": ", dump(added), ",\n  \"normalizer\": null,\n",
      "  \"pre_tokenizer\": ", dump(pre_tokenizer), ",\n",
      "  \"post_processor\": ", dump(post_processor), ",\n", "  \"decoder\": ", dump(byte_level),
      ",\n", "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n",
      "    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n",
      "    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n",
      "    \"byte_fallback\": false,\n    \"ignore_merges\": true,\n", "    \"vocab\": {", vocab,
      "\n    },\n    \"merges\": [", merge_list, "\n    ]\n  }\n}\n");
}

absl::Status SaveTokenizer(const Tokenizer& t, const std::string& dir,
                           const SaveTokenizerOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));

  std::string ranks;
  for (TokenId id = 0; id < t.num_ranks(); ++id) {
    const std::string_view bytes = t.TokenBytes(id);
    if (bytes.empty()) continue;
    absl::StrAppend(&ranks, absl::Base64Escape(absl::string_view(bytes.data(), bytes.size())), " ",
                    id, "\n");
  }

  nlohmann::ordered_json meta = {{"name", t.name()},
                                 {"pattern", std::string(PretokenPatternName(t.pattern()))},
                                 {"specials", nlohmann::ordered_json::object()},
                                 {"vocab_size", t.vocab_size()},
                                 {"num_ranks", t.num_ranks()}};
  std::vector<std::pair<TokenId, std::string>> specials;
  for (const auto& [text, id] : t.specials()) specials.emplace_back(id, text);
  std::sort(specials.begin(), specials.end());
  for (const auto& [id, text] : specials) meta["specials"][text] = id;
  if (!options.trained_on.empty()) meta["trained_on"] = options.trained_on;

  absl::StatusOr<std::string> hf = HfTokenizerJson(t, RecoverMerges(t));
  if (!hf.ok()) return hf.status();

  const fs::path root(dir);
  for (const auto& [name, contents] :
       {std::pair<const char*, const std::string*>{"tokenizer.tiktoken", &ranks},
        {"tokenizer.json", &*hf}}) {
    if (absl::Status s = WriteFile(root / name, *contents); !s.ok()) return s;
  }
  return WriteFile(
      root / "winnow_tokenizer.json",
      meta.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

}  // namespace winnow::trainer
