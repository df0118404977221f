#include "pipeline/warc/warc_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/pipeline/warc/read_helper.h"

namespace winnow::pipeline {
namespace {

using testing::CrawlFiles;
using testing::FileBytes;
using testing::ReadBytes;
using testing::ReadDataFile;
using testing::ReadResult;

constexpr char kCc2014[] =
    "commoncrawl/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc";

std::map<std::string, int> TypeCounts(const ReadResult& result) {
  std::map<std::string, int> counts;
  for (const WarcRecord& record : result.records) ++counts[record.type];
  return counts;
}

// Records returned plus records skipped add up to read/records.
void ExpectConsistentCounts(const ReadResult& result, const std::string& file) {
  EXPECT_GE(result.stats.Count("read/records"), static_cast<int64_t>(result.records.size()))
      << file;
}

std::vector<nlohmann::json> Golden() {
  std::ifstream in(std::string(WINNOW_SOURCE_DIR) +
                   "/tests/pipeline/warc/testdata/warc_counts.json");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

TEST(RecordReader, ReadsEveryCrawlFileToTheEnd) {
  const std::vector<std::string> files = CrawlFiles();
  ASSERT_GE(files.size(), 30u);
  for (const std::string& file : files) {
    ReadResult result = ReadDataFile(file);
    EXPECT_TRUE(result.status.ok()) << file << ": " << result.status;
    EXPECT_FALSE(result.records.empty()) << file;
    ExpectConsistentCounts(result, file);
  }
}

TEST(RecordReader, MatchesTheReferenceReaderOnEveryFile) {
  const std::vector<nlohmann::json> golden = Golden();
  ASSERT_GE(golden.size(), 30u);
  int compared = 0;
  for (const nlohmann::json& line : golden) {
    const std::string file = line["file"];
    if (!line.contains("records")) continue;  // the reference reader gave up on this one
    ReadResult result = ReadDataFile(file);
    ASSERT_TRUE(result.status.ok()) << file;
    const nlohmann::json& want = line["records"];
    EXPECT_EQ(result.stats.Count("read/records"), static_cast<int64_t>(want.size())) << file;
    if (result.stats.Count("read/damaged/bad_header") > 0) continue;  // skipped, not returned
    ASSERT_EQ(result.records.size(), want.size()) << file;
    for (size_t i = 0; i < want.size(); ++i) {
      const WarcRecord& got = result.records[i];
      EXPECT_EQ(got.offset, want[i][0].get<uint64_t>()) << file << " record " << i;
      EXPECT_EQ(got.type, want[i][1].get<std::string>()) << file << " record " << i;
      EXPECT_EQ(got.target_uri, want[i][2].get<std::string>()) << file << " record " << i;
    }
    ++compared;
  }
  EXPECT_GE(compared, 25);
}

TEST(RecordReader, CountsDamageOnlyInDamagedFiles) {
  const std::map<std::string, std::map<std::string, int64_t>> damaged = {
      {"warc-edge/clipped.warc.gz", {{"read/damaged/truncated_gzip", 1}}},
      // The filedesc's bad length makes its version block garbage: one damage, counted once.
      {"warc-edge/warcio-bad.arc", {{"read/damaged/bad_header", 3}}},
      // Two NUL bytes after a response block (its gzipped body lost the end of its trailer).
      {"warc-edge/warcio-example-trunc.warc", {{"read/damaged/garbage", 1}}},
  };
  for (const std::string& file : CrawlFiles()) {
    ReadResult result = ReadDataFile(file);
    std::map<std::string, int64_t> got;
    for (const auto& [name, count] : result.stats.counters()) {
      if (absl::StartsWith(name, "read/damaged/")) got[name] = count;
    }
    auto it = damaged.find(file);
    const std::map<std::string, int64_t> want =
        it == damaged.end() ? std::map<std::string, int64_t>() : it->second;
    EXPECT_EQ(got, want) << file;
    EXPECT_EQ(result.stats.Count("read/repaired/content_length"), 0) << file;
  }
}

TEST(RecordReader, SmallBuffersGiveTheSameRecords) {
  RecordReaderOptions tiny;
  tiny.buffer_bytes = 1;  // raised to the minimum (4 KiB)
  tiny.gzip.input_buffer_bytes = 7;
  for (const std::string& file : CrawlFiles()) {
    ReadResult normal = ReadDataFile(file);
    ReadResult small = ReadDataFile(file, tiny);
    ASSERT_TRUE(small.status.ok()) << file;
    ASSERT_EQ(small.records.size(), normal.records.size()) << file;
    for (size_t i = 0; i < normal.records.size(); ++i) {
      EXPECT_EQ(small.records[i].offset, normal.records[i].offset) << file << " " << i;
      EXPECT_EQ(small.records[i].block, normal.records[i].block) << file << " " << i;
    }
    EXPECT_EQ(small.stats.counters(), normal.stats.counters()) << file;
  }
}

TEST(RecordReader, CommonCrawl2014HasThirteenRecordsTwoTruncated) {
  ReadResult result = ReadDataFile(kCc2014);
  ASSERT_TRUE(result.status.ok());
  EXPECT_EQ(result.records.size(), 13u);
  EXPECT_EQ(TypeCounts(result),
            (std::map<std::string, int>{
                {"warcinfo", 1}, {"request", 4}, {"response", 4}, {"metadata", 4}}));
  int truncated = 0;
  for (const WarcRecord& record : result.records) {
    if (!record.Header("WARC-Truncated").empty()) {
      ++truncated;
      EXPECT_TRUE(record.truncated);
    }
  }
  EXPECT_EQ(truncated, 2);
  EXPECT_EQ(result.damaged(), 0);
  EXPECT_EQ(result.stats.Count("read/records"), 13);
}

TEST(RecordReader, CommonCrawl2020ExcerptHasFiftyRecords) {
  ReadResult result = ReadDataFile("commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz");
  ASSERT_TRUE(result.status.ok());
  EXPECT_EQ(result.records.size(), 50u);
  EXPECT_EQ(TypeCounts(result),
            (std::map<std::string, int>{
                {"warcinfo", 1}, {"request", 17}, {"response", 16}, {"metadata", 16}}));
  EXPECT_EQ(result.damaged(), 0);
  const WarcRecord& first = result.records[1];
  EXPECT_EQ(first.version, "WARC/1.0");
  EXPECT_EQ(first.offset, 481u);
  EXPECT_EQ(first.target_uri, "http://003338.cn/l41/481397.html");
  EXPECT_EQ(first.date, "2020-08-08T17:27:41Z");
  EXPECT_TRUE(absl::StartsWith(first.record_id, "<urn:uuid:"));
  EXPECT_EQ(first.Header("warc-type"), "request");
  EXPECT_EQ(first.Header("No-Such-Header"), "");
}

TEST(RecordReader, ReadsWetConversionAndWatMetadataRecords) {
  ReadResult wet = ReadDataFile(absl::StrCat(kCc2014, ".wet"));
  EXPECT_EQ(TypeCounts(wet), (std::map<std::string, int>{{"warcinfo", 1}, {"conversion", 3}}));
  ReadResult wat = ReadDataFile(absl::StrCat(kCc2014, ".wat"));
  EXPECT_EQ(TypeCounts(wat), (std::map<std::string, int>{{"warcinfo", 1}, {"metadata", 8}}));
  ReadResult wet_gz = ReadDataFile("commoncrawl/CC-MAIN-2024-22-whirlwind.warc.wet.gz");
  ASSERT_EQ(wet_gz.records.size(), 2u);
  EXPECT_EQ(wet_gz.records[1].type, "conversion");
  EXPECT_EQ(wet_gz.records[1].Header("Content-Type"), "text/plain");
  EXPECT_EQ(wet_gz.records[1].target_uri, "https://an.wikipedia.org/wiki/Escopete");
}

TEST(RecordReader, ReadsClueWeb09WarcVersion018) {
  ReadResult result = ReadDataFile("warc-edge/clueweb-quirk.warc.gz");
  ASSERT_TRUE(result.status.ok());
  ASSERT_EQ(result.records.size(), 30u);
  EXPECT_EQ(result.damaged(), 0);
  for (const WarcRecord& record : result.records) EXPECT_EQ(record.version, "WARC/0.18");
  EXPECT_EQ(TypeCounts(result), (std::map<std::string, int>{{"warcinfo", 1}, {"response", 29}}));
}

TEST(RecordReader, AcceptsLfOnlyHeaderLines) {
  const std::string block = "hello\n";
  const std::string warc =
      absl::StrCat("WARC/0.18\nWARC-Type: response\nWARC-Target-URI: http://a.example/\n",
                   "Content-Length: ", block.size(), "\n\n", block, "\n\n",
                   "WARC/0.18\nWARC-Type: request\nContent-Length: 0\n\n\n\n");
  ReadResult result = ReadBytes(warc);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].block, block);
  EXPECT_EQ(result.records[0].target_uri, "http://a.example/");
  EXPECT_EQ(result.records[1].type, "request");
  EXPECT_EQ(result.damaged(), 0);
}

TEST(RecordReader, RecordOffsetsEqualThePywbIndex) {
  ReadResult result = ReadDataFile("warc-edge/pywb-iana.warc.gz");
  ASSERT_TRUE(result.status.ok());
  ASSERT_EQ(result.records.size(), 343u);
  EXPECT_EQ(TypeCounts(result)["revisit"], 123);
  std::map<uint64_t, const WarcRecord*> by_offset;
  for (const WarcRecord& record : result.records) by_offset[record.offset] = &record;
  std::istringstream cdxj(FileBytes("warc-edge/pywb-iana.cdxj"));
  std::string line;
  int checked = 0;
  while (std::getline(cdxj, line)) {
    const nlohmann::json entry = nlohmann::json::parse(line.substr(line.find('{')));
    const uint64_t offset = std::stoull(entry["offset"].get<std::string>());
    const uint64_t length = std::stoull(entry["length"].get<std::string>());
    auto it = by_offset.find(offset);
    ASSERT_NE(it, by_offset.end()) << "no record at offset " << offset;
    EXPECT_EQ(it->second->target_uri, entry["url"].get<std::string>());
    // The record's compressed length runs to the next record (or the end of the file).
    auto next = std::next(it);
    const uint64_t end = next == by_offset.end() ? 786828 : next->first;
    EXPECT_EQ(end - offset, length) << offset;
    ++checked;
  }
  EXPECT_EQ(checked, 171);
}

TEST(RecordReader, ReadsArcFilesWithTheirFiledescHeader) {
  for (const char* file : {"warc-edge/warcio-example.arc", "warc-edge/warcio-example.arc.gz"}) {
    ReadResult result = ReadDataFile(file);
    ASSERT_EQ(result.records.size(), 2u) << file;
    EXPECT_EQ(result.damaged(), 0) << file;
    const WarcRecord& filedesc = result.records[0];
    EXPECT_EQ(filedesc.version, "ARC");
    EXPECT_EQ(filedesc.type, "warcinfo");
    EXPECT_EQ(filedesc.block.size(), 75u);
    const WarcRecord& page = result.records[1];
    EXPECT_EQ(page.type, "response");
    EXPECT_EQ(page.target_uri, "http://example.com/");
    EXPECT_EQ(page.date, "2014-02-16T05:02:21Z");
    EXPECT_EQ(page.Header("Content-Type"), "text/html");
    EXPECT_EQ(page.Header("WARC-IP-Address"), "93.184.216.119");
    EXPECT_EQ(page.block.size(), 1591u);
    EXPECT_TRUE(absl::StartsWith(page.block, "HTTP/1.1 200 OK\r\n"));
  }
}

TEST(RecordReader, CountsBadArcLengthsAndKeepsTheGoodRecord) {
  ReadResult result = ReadDataFile("warc-edge/warcio-bad.arc");
  ASSERT_TRUE(result.status.ok());
  // filedesc (-1), a record with length -1, one with length 1, one with length "abc".
  EXPECT_EQ(result.stats.Count("read/records"), 4);
  EXPECT_EQ(result.stats.Count("read/damaged/bad_header"), 3);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].target_uri, "http://example.com/");
  EXPECT_EQ(result.records[0].date, "2014-01-02T00:00:00Z");
  EXPECT_EQ(result.records[0].block, "\n");
}

TEST(RecordReader, SurvivesTruncatedGzipMember) {
  ReadResult result = ReadDataFile("warc-edge/clipped.warc.gz");
  ASSERT_TRUE(result.status.ok());
  ASSERT_EQ(result.records.size(), 1u);
  const WarcRecord& record = result.records[0];
  EXPECT_EQ(record.type, "response");
  EXPECT_TRUE(record.truncated);
  EXPECT_LT(record.block.size(), 88275u);
  EXPECT_TRUE(absl::StartsWith(record.block, "HTTP/1.1 200"));
  EXPECT_EQ(result.stats.Count("read/damaged/truncated_gzip"), 1);
  EXPECT_EQ(result.stats.Count("read/records"), 1);
}

TEST(RecordReader, ReadsGzipMemberWithExtraField) {
  ReadResult result = ReadDataFile("warc-edge/jwarc-gzip_extra_sl.warc.gz");
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].type, "warcinfo");
  EXPECT_EQ(result.damaged(), 0);
}

TEST(RecordReader, ReadsFilesGzippedAsOneStream) {
  for (const char* file : {"warc-edge/warcio-example-bad.warc.gz.bad",
                           "warc-edge/warcio-example-bad-non-chunked.warc.gz"}) {
    ReadResult result = ReadDataFile(file);
    ASSERT_TRUE(result.status.ok()) << file;
    EXPECT_EQ(result.records.size(), 6u) << file;
    EXPECT_EQ(result.damaged(), 0) << file;
    for (size_t i = 1; i < result.records.size(); ++i) {
      EXPECT_GT(result.records[i].offset, result.records[i - 1].offset) << file;
    }
  }
}

TEST(RecordReader, ReadsRecordsSplitAcrossGzipMembers) {
  ReadResult result = ReadDataFile("warc-edge/warcio-example-wrong-chunks.warc.gz");
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].type, "response");
  EXPECT_EQ(result.records[0].block.size(), 1613u);
  EXPECT_EQ(result.records[1].type, "request");
  EXPECT_EQ(result.records[1].offset, 1130u);
  EXPECT_EQ(result.damaged(), 0);
}

TEST(RecordReader, ReadsRecordsSizedToBufferBoundaries) {
  for (const char* file :
       {"warc-edge/block-sized-records.warc", "warc-edge/block-sized-records.warc.gz"}) {
    for (size_t buffer : {4096, 16384, 16386, 1 << 20}) {
      RecordReaderOptions options;
      options.buffer_bytes = buffer;
      ReadResult result = ReadDataFile(file, options);
      ASSERT_EQ(result.records.size(), 3u) << file << " " << buffer;
      for (const WarcRecord& record : result.records) {
        EXPECT_EQ(record.block.size(), 16229u);
        EXPECT_EQ(record.block.find_first_not_of(record.block[0]), std::string::npos);
      }
      EXPECT_EQ(result.damaged(), 0);
    }
  }
}

TEST(RecordReader, KeepsSpacesAndStripsAnglesInTargetUri) {
  ReadResult spaces = ReadDataFile("warc-edge/warcio-example-space-in-target-uri.warc.gz");
  ASSERT_EQ(spaces.records.size(), 2u);
  EXPECT_EQ(spaces.records[1].target_uri, "file:///example with spaces.png");
  ReadResult angles = ReadBytes(
      "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: <http://x.example/a b>\r\n"
      "Content-Length: 2\r\n\r\nhi\r\n\r\n");
  ASSERT_EQ(angles.records.size(), 1u);
  EXPECT_EQ(angles.records[0].target_uri, "http://x.example/a b");
  EXPECT_EQ(angles.records[0].version, "WARC/1.1");
  EXPECT_EQ(angles.records[0].type, "resource");
}

std::string Record(const std::string& type, const std::string& block, int64_t length = -1) {
  return absl::StrCat("WARC/1.0\r\nWARC-Type: ", type, "\r\nContent-Length: ",
                      length < 0 ? static_cast<int64_t>(block.size()) : length, "\r\n\r\n", block,
                      "\r\n\r\n");
}

TEST(RecordReader, ResyncsOnTheNextWarcLineAfterGarbage) {
  const std::string input = absl::StrCat("leading junk\n", Record("warcinfo", "a"),
                                         "\x01\x02 binary junk WARC/ not at line start\n",
                                         Record("response", "bb"), Record("request", "ccc"));
  ReadResult result = ReadBytes(input);
  ASSERT_EQ(result.records.size(), 3u);
  EXPECT_EQ(result.records[1].block, "bb");
  EXPECT_EQ(result.records[2].block, "ccc");
  EXPECT_EQ(result.stats.Count("read/damaged/garbage"), 2);
  EXPECT_EQ(result.records[1].offset, input.find("WARC/1.0\r\nWARC-Type: response"));
}

TEST(RecordReader, CutsABlockWhoseContentLengthRunsIntoTheNextRecord) {
  const std::string input =
      absl::StrCat(Record("response", "short", 40), Record("request", "next"));
  ReadResult result = ReadBytes(input);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].block, "short");
  EXPECT_TRUE(result.records[0].truncated);
  EXPECT_EQ(result.records[1].block, "next");
  EXPECT_EQ(result.records[1].offset, input.find("WARC/1.0", 1));
  EXPECT_EQ(result.stats.Count("read/repaired/content_length"), 1);
  EXPECT_EQ(result.damaged(), 0);
}

TEST(RecordReader, SkipsTheRestOfABlockWhoseContentLengthIsTooSmall) {
  const std::string input =
      absl::StrCat(Record("response", "0123456789", 4), Record("request", "x"));
  ReadResult result = ReadBytes(input);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].block, "0123");
  EXPECT_EQ(result.records[1].block, "x");
  EXPECT_EQ(result.stats.Count("read/damaged/garbage"), 1);
}

TEST(RecordReader, SkipsARecordWithoutContentLength) {
  const std::string input =
      absl::StrCat("WARC/1.0\r\nWARC-Type: response\r\n\r\nbody\r\n\r\n", Record("request", "x"));
  ReadResult result = ReadBytes(input);
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].type, "request");
  EXPECT_EQ(result.stats.Count("read/damaged/bad_header"), 1);
  EXPECT_EQ(result.stats.Count("read/damaged/garbage"), 0);
  EXPECT_EQ(result.stats.Count("read/records"), 2);
}

TEST(RecordReader, ReturnsARecordCutByTheEndOfAPlainFile) {
  std::string input = absl::StrCat(Record("warcinfo", "a"), Record("response", "0123456789"));
  input.resize(input.size() - 8);
  ReadResult result = ReadBytes(input);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[1].block, "012345");
  EXPECT_TRUE(result.records[1].truncated);
  EXPECT_EQ(result.stats.Count("read/damaged/truncated_record"), 1);
}

TEST(RecordReader, CapsBlocksAtMaxRecordBytes) {
  RecordReaderOptions options;
  options.max_record_bytes = 3;
  ReadResult result =
      ReadBytes(absl::StrCat(Record("response", "0123456789"), Record("request", "abcd")), options);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].block, "012");
  EXPECT_TRUE(result.records[0].truncated);
  EXPECT_EQ(result.records[1].block, "abc");
  EXPECT_EQ(result.damaged(), 0);
}

// Flips bytes inside one gzip member of a per-record gzip file.
TEST(RecordReader, SkipsACorruptGzipMemberAndResyncs) {
  std::string bytes = FileBytes("warc-edge/pywb-iana.warc.gz");
  const ReadResult clean = ReadBytes(bytes);
  ASSERT_EQ(clean.records.size(), 343u);
  // Corrupt the middle of the member of record 100.
  const uint64_t start = clean.records[100].offset;
  const uint64_t end = clean.records[101].offset;
  for (uint64_t i = start + 20; i < end - 10; i += 7) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  ReadResult result = ReadBytes(bytes);
  ASSERT_TRUE(result.status.ok());
  EXPECT_EQ(result.stats.Count("read/damaged/gzip_corrupt"), 1);
  ASSERT_EQ(result.records.size(), 342u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(result.records[i].offset, clean.records[i].offset);
  EXPECT_EQ(result.records[100].offset, clean.records[101].offset);
  EXPECT_EQ(result.records.back().offset, clean.records.back().offset);
}

TEST(RecordReader, SkipsGarbageBetweenGzipMembers) {
  std::string bytes = FileBytes("warc-edge/warcio-example.warc.gz");
  const ReadResult clean = ReadBytes(bytes);
  ASSERT_EQ(clean.records.size(), 6u);
  bytes.insert(clean.records[3].offset, "this is not gzip");
  ReadResult result = ReadBytes(bytes);
  EXPECT_EQ(result.records.size(), 6u);
  EXPECT_EQ(result.stats.Count("read/damaged/gzip_garbage"), 1);
  EXPECT_EQ(result.records[3].offset, clean.records[3].offset + 16);
}

TEST(RecordReader, SurvivesEveryCutOfACompressedFile) {
  const std::string bytes = FileBytes("warc-edge/warcio-example.warc.gz");
  const ReadResult clean = ReadBytes(bytes);
  for (size_t cut = 0; cut < bytes.size(); cut += 13) {
    ReadResult result = ReadBytes(bytes.substr(0, cut));
    ASSERT_TRUE(result.status.ok());
    size_t complete = 0;  // records whose member lies entirely before the cut
    for (size_t i = 0; i < clean.records.size(); ++i) {
      const uint64_t end =
          i + 1 < clean.records.size() ? clean.records[i + 1].offset : bytes.size();
      if (end <= cut) ++complete;
    }
    ASSERT_GE(result.records.size(), complete) << cut;
    for (size_t i = 0; i < complete; ++i) {
      EXPECT_EQ(result.records[i].block, clean.records[i].block) << cut;
    }
    if (complete < clean.records.size() && cut > clean.records[complete].offset) {
      EXPECT_EQ(result.stats.Count("read/damaged/truncated_gzip"), 1) << cut;
    }
  }
}

TEST(RecordReader, SurvivesRandomDamageToEveryFile) {
  std::mt19937 rng(42);
  for (const std::string& file : CrawlFiles()) {
    const std::string clean = FileBytes(file);
    for (int trial = 0; trial < 12; ++trial) {
      std::string bytes = clean;
      const int flips = 1 + static_cast<int>(rng() % 20);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      if (trial % 3 == 0) bytes.resize(rng() % bytes.size());
      ReadResult result = ReadBytes(bytes);
      EXPECT_TRUE(result.status.ok()) << file;
      ExpectConsistentCounts(result, file);
    }
  }
}

}  // namespace
}  // namespace winnow::pipeline
