// `winnow tokenizer encode|decode --tokenizer SPEC [--jsonl]` (and `train`, see
// tokenizer_train_command.cc): tokens from and to text for any tool, without linking the library.
//   encode: plain mode reads all of stdin as text and prints a JSON array of ids; --jsonl reads
//           {"text": …} lines and writes {"ids": […]} lines, in order.
//   decode: plain mode reads a JSON array of ids and writes the bytes; --jsonl reads {"ids": […]}
//           lines and writes {"text": …} lines ("lossy": true when the bytes are not valid UTF-8).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "services/commands.h"
#include "services/line_pipeline.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::services {
namespace {

struct TokenizerFlags {
  std::string tokenizer;
  bool jsonl = false;
  std::string allow_special;  // "all" or a comma-separated list
  bool disallow_special = false;
  int threads = 0;
};

bool ValidUtf8(std::string_view s) {
  nlohmann::json probe = std::string(s);
  try {
    (void)probe.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

trainer::SpecialTokens Specials(const TokenizerFlags& flags) {
  trainer::SpecialTokens special;
  if (flags.allow_special == "all") {
    special.allow_all = true;
  } else if (!flags.allow_special.empty()) {
    for (absl::string_view name : absl::StrSplit(flags.allow_special, ',')) {
      special.allowed.emplace_back(name);
    }
  }
  special.disallow_all = flags.disallow_special;
  return special;
}

// One JSON line out per line in, in order, on all threads.
int MapJsonLines(int threads, const char* prefix,
                 const std::function<std::string(const std::string&)>& fn) {
  const bool written = MapLines(threads, prefix, [&](const std::string& line) {
    return LineResult{fn(line), "", false};
  });
  return written ? kExitOk : kExitIoError;
}

absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> LoadOrSay(const TokenizerFlags& flags,
                                                              const char* verb) {
  absl::StatusOr<std::unique_ptr<trainer::Tokenizer>> t = trainer::Tokenizer::Load(flags.tokenizer);
  if (!t.ok()) {
    std::fprintf(stderr, "winnow tokenizer %s: %s\n", verb,
                 std::string(t.status().message()).c_str());
  }
  return t;
}

int EncodeMain(const TokenizerFlags& flags) {
  auto t = LoadOrSay(flags, "encode");
  if (!t.ok()) return kExitUsage;
  const trainer::Tokenizer& tokenizer = **t;
  const trainer::SpecialTokens special = Specials(flags);
  const int threads = flags.threads > 0
                          ? flags.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!flags.jsonl) {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    absl::StatusOr<std::vector<trainer::TokenId>> ids = tokenizer.Encode(text, special);
    if (!ids.ok()) {
      std::fprintf(stderr, "winnow tokenizer encode: %s\n",
                   std::string(ids.status().message()).c_str());
      return kExitUsage;
    }
    std::printf("%s\n", nlohmann::json(*ids).dump().c_str());
    return kExitOk;
  }
  return MapJsonLines(
      threads, "winnow tokenizer encode", [&](const std::string& line) -> std::string {
        if (line.empty()) return "{\"ids\":[]}";
        const nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
        if (!in.is_object() || !in.contains("text") || !in["text"].is_string()) {
          return R"({"ids":null,"error":"not a JSON object with a \"text\" string"})";
        }
        absl::StatusOr<std::vector<trainer::TokenId>> ids =
            tokenizer.Encode(in["text"].get<std::string>(), special);
        if (!ids.ok()) {
          return nlohmann::json{{"ids", nullptr}, {"error", std::string(ids.status().message())}}
              .dump();
        }
        return nlohmann::json{{"ids", *ids}}.dump();
      });
}

int DecodeMain(const TokenizerFlags& flags) {
  auto t = LoadOrSay(flags, "decode");
  if (!t.ok()) return kExitUsage;
  const trainer::Tokenizer& tokenizer = **t;
  const auto ids_of = [](const nlohmann::json& j, std::vector<trainer::TokenId>* ids) {
    if (!j.is_array()) return false;
    for (const auto& v : j) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > UINT32_MAX) {
        return false;
      }
      ids->push_back(v.get<trainer::TokenId>());
    }
    return true;
  };
  if (!flags.jsonl) {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::vector<trainer::TokenId> ids;
    if (!ids_of(nlohmann::json::parse(text, nullptr, false), &ids)) {
      std::fprintf(stderr, "winnow tokenizer decode: stdin is not a JSON array of ids\n");
      return kExitUsage;
    }
    const std::string bytes = tokenizer.Decode(ids);
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    return kExitOk;
  }
  const int threads = flags.threads > 0
                          ? flags.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return MapJsonLines(
      threads, "winnow tokenizer decode", [&](const std::string& line) -> std::string {
        const nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
        std::vector<trainer::TokenId> ids;
        if (!in.is_object() || !in.contains("ids") || !ids_of(in["ids"], &ids)) {
          return R"({"text":null,"error":"not a JSON object with an \"ids\" array of ids"})";
        }
        size_t unknown = 0;
        const std::string bytes = tokenizer.Decode(ids, &unknown);
        nlohmann::json out = {{"text", bytes}};
        if (!ValidUtf8(bytes)) out["lossy"] = true;
        if (unknown > 0) out["unknown_ids"] = unknown;
        return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      });
}

}  // namespace

void AddTokenizerEncodeDecode(CLI::App* tokenizer, CommandFn* run) {
  for (const char* verb : {"encode", "decode"}) {
    auto flags = std::make_shared<TokenizerFlags>();
    CLI::App* sub = tokenizer->add_subcommand(
        verb, std::string(verb) == "encode" ? "text → token ids" : "token ids → text");
    sub->add_option("--tokenizer", flags->tokenizer,
                    "gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, a .tiktoken file, a "
                    "tokenizer.json, or a folder with GPT-2's files or a tokenizer.json")
        ->required();
    sub->add_flag("--jsonl", flags->jsonl, "one JSON object per line in and out");
    sub->add_option("--threads", flags->threads, "threads for --jsonl (default: all cores)");
    if (std::string(verb) == "encode") {
      sub->add_option("--allow-special", flags->allow_special,
                      "special tokens whose text becomes their id: all, or NAME,…");
      sub->add_flag("--disallow-special", flags->disallow_special,
                    "fail on special-token text that is not allowed (default: encode it as text)");
      sub->callback([flags, run] { *run = [flags] { return EncodeMain(*flags); }; });
    } else {
      sub->callback([flags, run] { *run = [flags] { return DecodeMain(*flags); }; });
    }
  }
}

void AddTokenizerCommand(CLI::App& app, CommandFn* run) {
  CLI::App* tokenizer = app.add_subcommand("tokenizer", "byte-level BPE: encode, decode, train");
  tokenizer->require_subcommand(1);
  AddTokenizerEncodeDecode(tokenizer, run);
  AddTokenizerTrainCommand(tokenizer, run);
}

}  // namespace winnow::services
