#include "pipeline/io/inputs.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;
using absl::StrCat;

constexpr absl::string_view kCommonCrawlBase = "https://data.commoncrawl.org/";
constexpr absl::string_view kCrawlSuffixes[] = {".warc",   ".warc.gz", ".wet",
                                                ".wet.gz", ".arc",     ".arc.gz"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// True if `s` starts with a valid CC-MAIN-YYYY-WW.
bool StartsWithSnapshot(absl::string_view s) {
  if (!absl::StartsWith(s, "CC-MAIN-") || s.size() < 15) return false;
  const absl::string_view d = s.substr(8, 7);  // "YYYY-WW"
  for (int i : {0, 1, 2, 3, 5, 6}) {
    if (!IsDigit(d[i])) return false;
  }
  if (d[4] != '-') return false;
  const int year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
  const int week = (d[5] - '0') * 10 + (d[6] - '0');
  return year >= 2008 && year <= 2099 && week >= 1 && week <= 53;
}

bool IsRemote(absl::string_view arg) {
  return absl::StartsWithIgnoreCase(arg, "http://") ||
         absl::StartsWithIgnoreCase(arg, "https://") || absl::StartsWithIgnoreCase(arg, "s3://");
}

// The path part of a URL or file name: without "?query" or "#fragment" for URLs.
absl::string_view PathPart(absl::string_view arg) {
  if (!IsRemote(arg)) return arg;
  return arg.substr(0, std::min(arg.find('?'), arg.find('#')));
}

bool IsPathsFile(absl::string_view arg) {
  const absl::string_view path = PathPart(arg);
  return absl::EndsWith(path, ".paths") || absl::EndsWith(path, ".paths.gz");
}

bool HasCrawlSuffix(absl::string_view name) {
  return std::any_of(std::begin(kCrawlSuffixes), std::end(kCrawlSuffixes),
                     [&](absl::string_view suffix) { return absl::EndsWith(name, suffix); });
}

absl::Status Named(absl::string_view arg, const absl::Status& status) {
  return absl::Status(status.code(), StrCat("input '", arg, "': ", status.message()));
}

absl::Status Invalid(absl::string_view arg, absl::string_view why) {
  return absl::InvalidArgumentError(StrCat("input '", arg, "': ", why));
}

absl::StatusOr<std::vector<InputFile>> ExpandPathsFile(const std::string& arg,
                                                       const FetchOptions& fetch,
                                                       const Gunzip& gunzip) {
  absl::StatusOr<std::unique_ptr<ByteStream>> stream = OpenInput(arg, fetch);
  if (!stream.ok()) return Named(arg, stream.status());
  std::unique_ptr<ByteStream> text_stream = *std::move(stream);
  if (absl::EndsWith(PathPart(arg), ".gz")) {
    if (!gunzip) return Named(arg, absl::FailedPreconditionError("no gunzip to read a .paths.gz"));
    text_stream = gunzip(std::move(text_stream));
    if (text_stream == nullptr) return Named(arg, absl::InternalError("gunzip returned nothing"));
  }
  absl::StatusOr<std::string> text = ReadAll(*text_stream);
  if (!text.ok()) return Named(arg, text.status());

  const std::string own_snapshot = SnapshotOf(arg);
  std::vector<InputFile> files;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    InputFile file;
    if (IsRemote(line) || line[0] == '/') {
      file.location = std::string(line);
    } else if (absl::StrContains(line, "://")) {
      return Invalid(arg, StrCat("line ", line_number, ": unsupported URL scheme: ", line));
    } else {
      absl::ConsumePrefix(&line, "./");
      file.location = StrCat(kCommonCrawlBase, line);
    }
    file.snapshot = SnapshotOf(file.location);
    if (file.snapshot.empty()) file.snapshot = own_snapshot;
    files.push_back(std::move(file));
  }
  return files;
}

absl::StatusOr<std::vector<InputFile>> ExpandFolder(const std::string& arg) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::recursive_directory_iterator it(arg, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') {
      it.disable_recursion_pending();  // hidden: neither the file nor anything below the folder
      continue;
    }
    std::error_code file_ec;
    if (it->is_regular_file(file_ec) && HasCrawlSuffix(name)) {
      paths.push_back(it->path().lexically_normal().string());
    }
  }
  if (ec) return Named(arg, absl::UnavailableError(StrCat("listing the folder: ", ec.message())));
  if (paths.empty()) {
    return Invalid(arg,
                   "the folder holds no .warc, .warc.gz, .wet, .wet.gz, .arc or .arc.gz files");
  }
  std::sort(paths.begin(), paths.end());
  std::vector<InputFile> files;
  files.reserve(paths.size());
  for (std::string& path : paths) {
    std::string snapshot = SnapshotOf(path);
    files.push_back({std::move(path), std::move(snapshot)});
  }
  return files;
}

absl::StatusOr<std::vector<InputFile>> ExpandOne(const std::string& arg, const FetchOptions& fetch,
                                                 const Gunzip& gunzip) {
  if (arg.empty()) return absl::InvalidArgumentError("input '': an empty INPUT argument");
  if (IsPathsFile(arg)) return ExpandPathsFile(arg, fetch, gunzip);
  if (absl::StartsWithIgnoreCase(arg, "s3://")) {
    if (absl::StatusOr<std::string> url = S3ToHttps(arg); !url.ok()) {
      return Named(arg, url.status());
    }
  }
  if (IsRemote(arg)) return std::vector<InputFile>{{arg, SnapshotOf(arg)}};
  if (absl::StrContains(arg, "://") && !absl::StartsWithIgnoreCase(arg, "file://")) {
    return Invalid(arg, "unsupported URL scheme (use a path, http(s):// or s3://)");
  }
  const std::string path = absl::StartsWithIgnoreCase(arg, "file://") ? arg.substr(7) : arg;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return Named(arg, absl::NotFoundError("no such file or folder"));
  }
  if (fs::is_directory(status)) return ExpandFolder(path);
  if (!fs::is_regular_file(status)) return Invalid(arg, "not a regular file or a folder");
  std::string normal = fs::path(path).lexically_normal().string();
  std::string snapshot = SnapshotOf(normal);
  return std::vector<InputFile>{{std::move(normal), std::move(snapshot)}};
}

}  // namespace

std::string SnapshotOf(std::string_view location_std) {
  const absl::string_view location(location_std.data(), location_std.size());
  for (size_t at = location.find("CC-MAIN-"); at != absl::string_view::npos;
       at = location.find("CC-MAIN-", at + 1)) {
    const absl::string_view rest = location.substr(at);
    if (StartsWithSnapshot(rest) && (rest.size() == 15 || !IsDigit(rest[15]))) {
      return std::string(rest.substr(0, 15));
    }
  }
  return "";
}

absl::StatusOr<std::string> SnapshotPathsUrl(std::string_view snapshot_std,
                                             std::string_view kind_std) {
  const absl::string_view snapshot(snapshot_std.data(), snapshot_std.size());
  const absl::string_view kind(kind_std.data(), kind_std.size());
  if (snapshot.size() != 15 || !StartsWithSnapshot(snapshot)) {
    return absl::InvalidArgumentError(StrCat(
        "snapshot '", snapshot, "': expected CC-MAIN-YYYY-WW (year 2008..2099, week 01..53)"));
  }
  if (kind != "warc" && kind != "wet" && kind != "wat") {
    return absl::InvalidArgumentError(StrCat("paths kind '", kind, "': expected warc, wet or wat"));
  }
  return StrCat(kCommonCrawlBase, "crawl-data/", snapshot, "/", kind, ".paths.gz");
}

absl::StatusOr<std::vector<InputFile>> ExpandInputs(const std::vector<std::string>& args,
                                                    const FetchOptions& fetch,
                                                    const Gunzip& gunzip) {
  std::vector<InputFile> out;
  std::unordered_set<std::string> seen;
  for (const std::string& arg : args) {
    absl::StatusOr<std::vector<InputFile>> files = ExpandOne(arg, fetch, gunzip);
    if (!files.ok()) return files.status();
    for (InputFile& file : *files) {
      if (seen.insert(file.location).second) out.push_back(std::move(file));
    }
  }
  return out;
}

}  // namespace winnow::pipeline
