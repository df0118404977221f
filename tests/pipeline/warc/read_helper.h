// tests/pipeline/warc/read_helper.h — reading the shared crawl files in warc tests.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/byte_stream.h"
#include "pipeline/stats.h"
#include "pipeline/warc/warc_reader.h"

namespace winnow::pipeline::testing {

// WINNOW_SHARED_DIR/data/<relative>.
std::string DataPath(std::string_view relative);
// The whole file, or a test failure.
std::string FileBytes(std::string_view relative);
// Every crawl file in data/commoncrawl and data/warc-edge ("folder/name"), sorted.
std::vector<std::string> CrawlFiles();

struct ReadResult {
  std::vector<WarcRecord> records;
  Stats stats;
  absl::Status status;
  int64_t damaged() const { return stats.CountPrefix("read/damaged/"); }
};

// Reads every record; stops with a test failure after `max_records` (an endless loop).
ReadResult ReadRecords(std::unique_ptr<ByteStream> input, RecordReaderOptions options = {},
                       size_t max_records = 100000);
ReadResult ReadDataFile(std::string_view relative, RecordReaderOptions options = {});
ReadResult ReadBytes(std::string bytes, RecordReaderOptions options = {});

}  // namespace winnow::pipeline::testing
