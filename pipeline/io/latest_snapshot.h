// pipeline/io/latest_snapshot.h — `--snapshot latest`: the newest Common Crawl snapshot's name.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/io/fetch.h"

namespace winnow::pipeline {

// Common Crawl's list of crawls, newest first: [{"id": "CC-MAIN-2024-51", …}, …].
inline constexpr char kCommonCrawlCollinfoUrl[] = "https://index.commoncrawl.org/collinfo.json";

// The newest "CC-MAIN-YYYY-WW" id in a collinfo.json document (the greatest year and week, not
// just the first entry). InvalidArgument when the text is not such a list or names none.
absl::StatusOr<std::string> LatestSnapshotFromCollinfo(std::string_view json_text);

// Returns `name` itself when it is a snapshot name; for "latest" downloads kCommonCrawlCollinfoUrl
// (or `collinfo_url`) and picks the newest.
absl::StatusOr<std::string> ResolveSnapshotName(
    const std::string& name, const FetchOptions& fetch,
    const std::string& collinfo_url = kCommonCrawlCollinfoUrl);

}  // namespace winnow::pipeline
