// `winnow filter [--config FILE] [--only NAME,…] [--set NAME.PARAM=VALUE …] < in.jsonl >
// out.jsonl`: the filter chain over datatrove-style JSONL, one decision line per input line, in
// input order.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "filters/registry.h"
#include "nlohmann/json.hpp"
#include "pipeline/run/config.h"
#include "services/commands.h"
#include "services/line_pipeline.h"

namespace winnow::services {
namespace {

struct FilterFlags {
  std::string config_path;
  std::vector<std::string> only;
  std::vector<std::string> sets;
  int threads = 0;
};

// One input line → one output line: {"id","kept","filter","reason","text","metadata"}.
std::string Decide(const std::string& line, const filters::FilterChain& chain, bool* invalid) {
  nlohmann::json in = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  nlohmann::json out;
  if (!in.is_object() || !in.contains("text") || !in["text"].is_string()) {
    *invalid = true;
    out = {{"id", nullptr},     {"kept", false},
           {"filter", nullptr}, {"reason", "invalid_input"},
           {"text", nullptr},   {"metadata", nlohmann::json::object()}};
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  pipeline::Document doc;
  doc.text = in["text"].get<std::string>();
  if (in.contains("metadata") && in["metadata"].is_object()) doc.metadata = in["metadata"];
  if (doc.metadata.contains("url") && doc.metadata["url"].is_string()) {
    doc.url = doc.metadata["url"].get<std::string>();
  }
  out["id"] = in.contains("id") ? in["id"] : nlohmann::json(nullptr);
  out["kept"] = true;
  out["filter"] = nullptr;
  out["reason"] = nullptr;
  for (const auto& filter : chain.filters) {
    pipeline::Verdict verdict = filter->Check(&doc);
    if (!verdict.kept) {
      out["kept"] = false;
      out["filter"] = std::string(filter->name());
      out["reason"] = verdict.reason;
      break;
    }
  }
  out["text"] = doc.text;
  out["metadata"] = doc.metadata;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int FilterMain(const FilterFlags& flags) {
  absl::StatusOr<pipeline::RunConfig> config = pipeline::LoadConfig(flags.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "winnow filter: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  filters::ChainOptions options;
  options.only = flags.only;
  options.sets = flags.sets;
  absl::StatusOr<filters::FilterChain> chain = filters::BuildFilterChain(
      config->filters, options, flags.config_path.empty() ? "<default>" : flags.config_path);
  if (!chain.ok()) {
    std::fprintf(stderr, "winnow filter: %s\n", std::string(chain.status().message()).c_str());
    return kExitUsage;
  }
  const int threads = flags.threads > 0
                          ? flags.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const bool written = MapLines(threads, "winnow filter", [&](const std::string& text) {
    LineResult result;
    if (text.empty()) {  // blank lines carry no document
      result.skip = true;
      return result;
    }
    bool invalid = false;
    result.out = Decide(text, *chain, &invalid);
    if (invalid) result.warning = "not a JSON document, passed on as invalid_input";
    return result;
  });
  return written ? kExitOk : kExitIoError;
}

}  // namespace

void AddFilterCommand(CLI::App& app, CommandFn* run) {
  auto flags = std::make_shared<FilterFlags>();
  CLI::App* sub = app.add_subcommand(
      "filter", "run the filter chain over JSONL documents ({\"id\",\"text\",\"metadata\"})");
  sub->add_option("--config", flags->config_path, "YAML config (its filters section)")
      ->check(CLI::ExistingFile);
  sub->add_option("--only", flags->only, "run just these filters, e.g. gopher_quality,url")
      ->delimiter(',');
  sub->add_option("--set", flags->sets, "override one parameter: NAME.PARAM=VALUE (repeatable)");
  sub->add_option("--threads", flags->threads, "worker threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->callback([flags, run] { *run = [flags] { return FilterMain(*flags); }; });
}

}  // namespace winnow::services
