#include "tests/pipeline/warc/read_helper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace winnow::pipeline::testing {

std::string DataPath(std::string_view relative) {
  return std::string(WINNOW_SHARED_DIR) + "/data/" + std::string(relative);
}

std::string FileBytes(std::string_view relative) {
  absl::StatusOr<std::unique_ptr<ByteStream>> stream = OpenLocalFile(DataPath(relative));
  EXPECT_TRUE(stream.ok()) << stream.status();
  if (!stream.ok()) return "";
  absl::StatusOr<std::string> bytes = ReadAll(**stream);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

std::vector<std::string> CrawlFiles() {
  std::vector<std::string> files;
  for (const char* folder : {"commoncrawl", "warc-edge"}) {
    for (const auto& entry : std::filesystem::directory_iterator(DataPath(folder))) {
      const std::string name = entry.path().filename().string();
      if (absl::EndsWith(name, ".cdxj")) continue;
      files.push_back(absl::StrCat(folder, "/", name));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ReadResult ReadRecords(std::unique_ptr<ByteStream> input, RecordReaderOptions options,
                       size_t max_records) {
  ReadResult result;
  std::unique_ptr<RecordReader> reader = RecordReader::Open(std::move(input), options);
  while (true) {
    WarcRecord record;
    absl::StatusOr<bool> got = reader->Next(&record, &result.stats);
    if (!got.ok()) {
      result.status = got.status();
      break;
    }
    if (!*got) break;
    result.records.push_back(std::move(record));
    if (result.records.size() > max_records) {
      ADD_FAILURE() << "more than " << max_records << " records: an endless loop?";
      break;
    }
  }
  return result;
}

ReadResult ReadDataFile(std::string_view relative, RecordReaderOptions options) {
  absl::StatusOr<std::unique_ptr<ByteStream>> stream = OpenLocalFile(DataPath(relative));
  if (!stream.ok()) {
    ReadResult result;
    result.status = stream.status();
    return result;
  }
  return ReadRecords(std::move(*stream), options);
}

ReadResult ReadBytes(std::string bytes, RecordReaderOptions options) {
  return ReadRecords(StringStream(std::move(bytes)), options);
}

}  // namespace winnow::pipeline::testing
