// pipeline/io/inputs.h — turns INPUT arguments (files, folders, URLs, paths files) into the list of
// crawl files a run processes, in a deterministic order.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/byte_stream.h"
#include "pipeline/io/fetch.h"

namespace winnow::pipeline {

// Wraps a gzip-compressed stream into one yielding the inflated bytes (the caller passes the WARC
// reader's gunzip; errors surface from Read()).
using Gunzip = std::function<std::unique_ptr<ByteStream>(std::unique_ptr<ByteStream>)>;

struct InputFile {
  std::string location;  // a local path, or an http(s):// or s3:// URL, as OpenInput takes it
  std::string snapshot;  // "CC-MAIN-YYYY-WW" found in the location (or its paths file), else ""
};

// Expands INPUT arguments as DESIGN.md's CLI contract says, each in turn:
//  - a paths file (`*.paths`, `*.paths.gz`, local or remote): one path per line, blank lines and
//    `#` comments ignored; relative lines resolve against https://data.commoncrawl.org/, absolute
//    URLs and absolute local paths are kept;
//  - an http(s):// or s3:// URL: kept as is;
//  - a local folder: every file below it ending .warc .warc.gz .wet .wet.gz .arc .arc.gz, hidden
//    files and folders skipped, sorted by path; a folder with none is an error;
//  - a local file: kept as is.
// Duplicates are dropped (the first stays). Errors name the offending argument. `gunzip` is only
// called for `*.paths.gz`; it may be empty if none are given.
absl::StatusOr<std::vector<InputFile>> ExpandInputs(const std::vector<std::string>& args,
                                                    const FetchOptions& fetch,
                                                    const Gunzip& gunzip);

// "CC-MAIN-2024-22" → "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-22/warc.paths.gz".
// kind: "warc", "wet" or "wat". InvalidArgument for a name other than CC-MAIN-YYYY-WW (year
// 2008..2099, week 01..53) or another kind.
absl::StatusOr<std::string> SnapshotPathsUrl(std::string_view snapshot,
                                             std::string_view kind = "warc");

// The first valid "CC-MAIN-YYYY-WW" inside `location`, or "" if there is none.
std::string SnapshotOf(std::string_view location);

}  // namespace winnow::pipeline
