#include "pipeline/warc/gzip_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "pipeline/warc/internal/inflater.h"
#include "tests/pipeline/warc/read_helper.h"

namespace winnow::pipeline {
namespace {

using testing::CrawlFiles;
using testing::FileBytes;

struct Inflated {
  std::string data;
  std::vector<uint64_t> member_offsets;  // in order, one per member that produced data
  std::vector<std::string> damage;
  bool ok = true;
};

Inflated InflateAll(GzipReader& reader, size_t chunk_bytes = 1 << 16) {
  Inflated out;
  std::string buf(chunk_bytes, '\0');
  for (int calls = 0; calls < 10000000; ++calls) {
    absl::StatusOr<GzipChunk> chunk = reader.Read(buf.data(), buf.size());
    if (!chunk.ok()) {
      out.ok = false;
      return out;
    }
    if (chunk->size > 0 && chunk->member_position == 0) {
      out.member_offsets.push_back(chunk->member_offset);
    }
    out.data.append(buf.data(), chunk->size);
    if (!chunk->damage.empty()) out.damage.emplace_back(chunk->damage);
    if (chunk->end) return out;
  }
  ADD_FAILURE() << "no end after ten million reads";
  return out;
}

Inflated InflateBytes(std::string bytes, bool zlib = false, GzipReaderOptions options = {},
                      size_t chunk_bytes = 1 << 16) {
  std::unique_ptr<GzipReader> reader =
      zlib ? internal::GzipReaderTestPeer::NewWithZlib(StringStream(std::move(bytes)), options)
           : std::make_unique<GzipReader>(StringStream(std::move(bytes)), options);
  return InflateAll(*reader, chunk_bytes);
}

// zlib's own multi-member gunzip, as the reference.
std::string ZlibGunzip(const std::string& bytes) {
  std::string out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    z_stream zs = {};
    if (inflateInit2(&zs, 16 + 15) != Z_OK) break;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + pos));
    zs.avail_in = static_cast<uInt>(bytes.size() - pos);
    char buf[65536];
    int ret = Z_OK;
    while (ret == Z_OK) {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      ret = inflate(&zs, Z_NO_FLUSH);
      out.append(buf, sizeof(buf) - zs.avail_out);
    }
    pos = bytes.size() - zs.avail_in;
    inflateEnd(&zs);
    if (ret != Z_STREAM_END) break;
  }
  return out;
}

bool IsGzip(const std::string& bytes) {
  return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b';
}

TEST(GzipReader, PassesPlainInputThrough) {
  const std::string bytes = FileBytes("warc-edge/warcio-example.warc");
  GzipReader reader(StringStream(bytes));
  Inflated out = InflateAll(reader, 1000);
  EXPECT_FALSE(reader.is_gzip());
  EXPECT_EQ(out.data, bytes);
  EXPECT_TRUE(out.damage.empty());
}

TEST(GzipReader, BothEnginesMatchZlibOnEveryCompressedFile) {
  int compressed = 0;
  for (const std::string& file : CrawlFiles()) {
    const std::string bytes = FileBytes(file);
    if (!IsGzip(bytes) || file == "warc-edge/clipped.warc.gz") continue;
    const std::string want = ZlibGunzip(bytes);
    for (bool zlib : {false, true}) {
      Inflated got = InflateBytes(bytes, zlib);
      ASSERT_TRUE(got.ok) << file;
      EXPECT_EQ(got.data, want) << file << (zlib ? " (zlib)" : " (default)");
      EXPECT_TRUE(got.damage.empty()) << file;
    }
    ++compressed;
  }
  EXPECT_GE(compressed, 20);
}

TEST(GzipReader, TinyReadsStillFindEveryMember) {
  const std::string bytes = FileBytes("warc-edge/pywb-example-wget-1-14.warc.gz");
  const Inflated normal = InflateBytes(bytes);
  for (bool zlib : {false, true}) {
    for (size_t input : {1, 2, 3, 7, 64}) {
      GzipReaderOptions options;
      options.input_buffer_bytes = input;
      const Inflated small = InflateBytes(bytes, zlib, options, /*chunk_bytes=*/5);
      EXPECT_EQ(small.data, normal.data) << input;
      EXPECT_EQ(small.member_offsets, normal.member_offsets) << input;
      EXPECT_TRUE(small.damage.empty()) << input;
    }
  }
}

TEST(GzipReader, MemberOffsetsEqualThePywbIndex) {
  const Inflated out = InflateBytes(FileBytes("warc-edge/pywb-iana.warc.gz"));
  EXPECT_EQ(out.member_offsets.size(), 343u);
  const std::set<uint64_t> members(out.member_offsets.begin(), out.member_offsets.end());
  std::istringstream cdxj(FileBytes("warc-edge/pywb-iana.cdxj"));
  std::string line;
  while (std::getline(cdxj, line)) {
    const nlohmann::json entry = nlohmann::json::parse(line.substr(line.find('{')));
    EXPECT_TRUE(members.count(std::stoull(entry["offset"].get<std::string>()))) << line;
  }
}

TEST(GzipReader, ParsesTheExtraHeaderField) {
  const std::string bytes = FileBytes("warc-edge/jwarc-gzip_extra_sl.warc.gz");
  ASSERT_EQ(bytes[3] & 0x04, 0x04);  // FEXTRA is set
  for (bool zlib : {false, true}) {
    const Inflated out = InflateBytes(bytes, zlib);
    EXPECT_TRUE(absl::StartsWith(out.data, "WARC/1.0\r\nWARC-Type: warcinfo"));
    EXPECT_EQ(out.data.size(), 615u);
    EXPECT_TRUE(out.damage.empty());
  }
}

TEST(GzipReader, ReportsATruncatedMemberAndKeepsItsData) {
  for (bool zlib : {false, true}) {
    const Inflated out = InflateBytes(FileBytes("warc-edge/clipped.warc.gz"), zlib);
    EXPECT_EQ(out.damage, std::vector<std::string>{"truncated_gzip"});
    EXPECT_GT(out.data.size(), 70000u);
    EXPECT_TRUE(absl::StartsWith(out.data, "WARC/1.0\r\n"));
  }
}

TEST(GzipReader, ResyncsAtTheNextMemberAfterCorruptData) {
  std::string bytes = FileBytes("warc-edge/warcio-example.warc.gz");
  const Inflated clean = InflateBytes(bytes);
  ASSERT_EQ(clean.member_offsets.size(), 6u);
  // Garble the deflate data of the third member.
  for (uint64_t i = clean.member_offsets[2] + 30; i < clean.member_offsets[3] - 10; ++i) {
    bytes[i] = static_cast<char>(bytes[i] * 7 + 3);
  }
  for (bool zlib : {false, true}) {
    const Inflated out = InflateBytes(bytes, zlib);
    EXPECT_EQ(out.damage, std::vector<std::string>{"gzip_corrupt"}) << zlib;
    ASSERT_GE(out.member_offsets.size(), 5u);
    EXPECT_EQ(out.member_offsets.back(), clean.member_offsets.back());
    EXPECT_TRUE(absl::EndsWith(out.data, clean.data.substr(clean.data.size() - 500)));
  }
}

TEST(GzipReader, DetectsACrcMismatch) {
  std::string bytes = FileBytes("warc-edge/warcio-example.warc.gz");
  const Inflated clean = InflateBytes(bytes);
  bytes[clean.member_offsets[1] - 6] ^= 0x01;  // the CRC-32 of the first member
  for (bool zlib : {false, true}) {
    const Inflated out = InflateBytes(bytes, zlib);
    EXPECT_EQ(out.damage, std::vector<std::string>{"gzip_corrupt"}) << zlib;
    EXPECT_EQ(out.member_offsets.back(), clean.member_offsets.back());
  }
}

TEST(GzipReader, NeverLoopsOnRandomBytes) {
  std::string bytes(100000, '\0');
  uint32_t x = 12345;
  for (char& c : bytes) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  bytes[0] = '\x1f';
  bytes[1] = '\x8b';
  for (size_t i = 1000; i + 3 < bytes.size(); i += 997) {  // plenty of false magics
    bytes[i] = '\x1f';
    bytes[i + 1] = '\x8b';
    bytes[i + 2] = '\x08';
    bytes[i + 3] = '\x00';
  }
  for (bool zlib : {false, true}) {
    const Inflated out = InflateBytes(bytes, zlib);
    EXPECT_TRUE(out.ok);
    EXPECT_FALSE(out.damage.empty());
  }
}

TEST(MaybeGunzip, GunzipsEveryMember) {
  std::unique_ptr<ByteStream> stream =
      MaybeGunzip(StringStream(FileBytes("warc-edge/block-sized-records.warc.gz")));
  absl::StatusOr<std::string> all = ReadAll(*stream);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, FileBytes("warc-edge/block-sized-records.warc"));
}

TEST(MaybeGunzip, PassesPlainBytesThrough) {
  std::unique_ptr<ByteStream> stream = MaybeGunzip(StringStream("a\nb\n", "x.paths"));
  absl::StatusOr<std::string> all = ReadAll(*stream);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, "a\nb\n");
  EXPECT_EQ(stream->name(), "x.paths");
  std::unique_ptr<ByteStream> empty = MaybeGunzip(StringStream(""));
  EXPECT_EQ(ReadAll(*empty).value(), "");
}

TEST(MaybeGunzip, DamagedInputIsDataLoss) {
  std::unique_ptr<ByteStream> stream =
      MaybeGunzip(StringStream(FileBytes("warc-edge/clipped.warc.gz"), "clipped.warc.gz"));
  absl::StatusOr<std::string> all = ReadAll(*stream);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(std::string(all.status().message()), "truncated_gzip"));
}

}  // namespace
}  // namespace winnow::pipeline
