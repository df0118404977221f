#include "pipeline/io/latest_snapshot.h"

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "pipeline/byte_stream.h"
#include "pipeline/io/inputs.h"

namespace winnow::pipeline {

absl::StatusOr<std::string> LatestSnapshotFromCollinfo(std::string_view json_text) {
  const nlohmann::json list = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) {
    return absl::InvalidArgumentError("collinfo.json: expected a JSON list of crawls");
  }
  std::string best;
  for (const nlohmann::json& crawl : list) {
    if (!crawl.is_object() || !crawl.contains("id") || !crawl["id"].is_string()) continue;
    const std::string id = crawl["id"].get<std::string>();
    // CC-MAIN-YYYY-WW names sort by date as strings.
    if (id.size() == 15 && SnapshotOf(id) == id && id > best) best = id;
  }
  if (best.empty())
    return absl::InvalidArgumentError("collinfo.json names no CC-MAIN-YYYY-WW crawl");
  return best;
}

absl::StatusOr<std::string> ResolveSnapshotName(const std::string& name, const FetchOptions& fetch,
                                                const std::string& collinfo_url) {
  if (name != "latest") return name;
  absl::StatusOr<std::unique_ptr<ByteStream>> in = OpenInput(collinfo_url, fetch);
  if (!in.ok()) return in.status();
  absl::StatusOr<std::string> text = ReadAll(**in);
  if (!text.ok()) return text.status();
  return LatestSnapshotFromCollinfo(*text);
}

}  // namespace winnow::pipeline
