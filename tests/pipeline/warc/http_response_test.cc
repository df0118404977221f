#include "pipeline/warc/http_response.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "absl/strings/match.h"
#include "tests/pipeline/warc/read_helper.h"

namespace winnow::pipeline {
namespace {

using namespace std::string_literals;
using testing::ReadDataFile;
using testing::ReadResult;

// zlib-compresses `data`; window_bits 31 = gzip, 15 = zlib, -15 = raw deflate.
std::string Compress(const std::string& data, int window_bits) {
  z_stream zs = {};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Response(const std::string& headers, const std::string& body) {
  return "HTTP/1.1 200 OK\r\n" + headers + "\r\n" + body;
}

TEST(HttpResponse, ParsesStatusHeadersAndContentType) {
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(
      "HTTP/1.1 404 Not Found\r\nContent-Type: Text/HTML; Charset=\"Windows-1251\"\r\n"
      "X-Long: a\r\n  b\r\n\r\n<html>");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->content_type, "text/html");
  EXPECT_EQ(r->charset, "windows-1251");
  EXPECT_EQ(r->Header("x-long"), "a b");
  EXPECT_EQ(r->body, "<html>");
  EXPECT_FALSE(r->dechunked);
  EXPECT_FALSE(r->inflated);
}

TEST(HttpResponse, ParsesLfOnlyHeaders) {
  absl::StatusOr<HttpResponse> r =
      ParseHttpResponse("HTTP/1.0 200 OK\nContent-Type: text/plain\n\nhello\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->charset, "");
  EXPECT_EQ(r->body, "hello\n");
}

TEST(HttpResponse, ParsesAStatusLineWithoutReasonText) {
  ReadResult result = ReadDataFile("warc-edge/pywb-missing-status-text.warc");
  ASSERT_EQ(result.records.size(), 1u);
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(result.records[0].block);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->Header("Location"), "http://www.iana.org/badst");
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(ParseHttpResponse("HTTP/1.1 204").value().status, 204);
}

TEST(HttpResponse, RejectsABlockThatIsNotHttp) {
  EXPECT_EQ(ParseHttpResponse("<html>hello</html>").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseHttpResponse("HTTP/1.1 abc OK\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpResponse("").ok());
}

// pywb's iana.org crawl keeps "Transfer-Encoding: chunked" on bodies stored dechunked.
TEST(HttpResponse, LeavesIanaBodiesStoredDechunkedAlone) {
  ReadResult result = ReadDataFile("warc-edge/pywb-iana.warc.gz");
  ASSERT_EQ(result.records.size(), 343u);
  int chunked = 0;
  for (const WarcRecord& record : result.records) {
    if (record.type != "response" && record.type != "revisit") continue;
    absl::StatusOr<HttpResponse> r = ParseHttpResponse(record.block);
    ASSERT_TRUE(r.ok()) << record.target_uri;
    if (std::string(r->Header("Transfer-Encoding")).find("chunked") == std::string::npos) continue;
    ++chunked;
    EXPECT_FALSE(r->dechunked) << record.target_uri;
    if (record.target_uri == "http://www.iana.org/" && record.type == "response") {
      EXPECT_TRUE(absl::StartsWith(r->body, "<!doctype html>"));
    }
  }
  EXPECT_EQ(chunked, 134);
}

TEST(HttpResponse, DechunksAndInflatesTheWarcioChunkedExample) {
  ReadResult result = ReadDataFile("warc-edge/warcio-example-iana.org-chunked.warc");
  ASSERT_EQ(result.records.size(), 3u);
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(result.records[1].block);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->dechunked);
  EXPECT_TRUE(absl::StartsWith(r->body, "<!doctype html>")) << r->body.substr(0, 40);
  EXPECT_TRUE(absl::StrContains(r->body, "</html>"));
}

TEST(HttpResponse, KeepsTheRawBodyWhenChunkSizesAreWrong) {
  const std::string body = "5\r\nhello\r\n3\r\nab\r\n0\r\n\r\n";
  absl::StatusOr<HttpResponse> r =
      ParseHttpResponse(Response("Transfer-Encoding: chunked\r\n", body));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->dechunked);
  EXPECT_EQ(r->body, body);
}

TEST(HttpResponse, LeavesBodiesTheCrawlerAlreadyDecoded) {
  // Common Crawl 2020: X-Crawler-Transfer-Encoding / X-Crawler-Content-Encoding, plain bodies.
  ReadResult cc = ReadDataFile("commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz");
  int responses = 0;
  for (const WarcRecord& record : cc.records) {
    if (record.type != "response") continue;
    absl::StatusOr<HttpResponse> r = ParseHttpResponse(record.block);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->dechunked);
    EXPECT_FALSE(r->inflated);
    EXPECT_EQ(r->content_encoding, "");
    EXPECT_TRUE(absl::StrContains(r->body, "<")) << record.target_uri;
    ++responses;
  }
  EXPECT_EQ(responses, 16);
  // ClueWeb09 keeps "Content-Encoding: gzip" on bodies stored decoded.
  ReadResult clueweb = ReadDataFile("warc-edge/clueweb-quirk.warc.gz");
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(clueweb.records[1].block);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Header("Content-Encoding"), "gzip");
  EXPECT_FALSE(r->inflated);
  EXPECT_EQ(r->content_encoding, "");
  EXPECT_EQ(r->charset, "euc-jp");
  EXPECT_TRUE(absl::StartsWith(r->body, "<html>"));
}

TEST(HttpResponse, InflatesGzipAndDeflateBodies) {
  const std::string page = "<html><body>" + std::string(5000, 'x') + "</body></html>";
  for (const auto& [coding, bits] : std::vector<std::pair<std::string, int>>{
           {"gzip", 31}, {"x-gzip", 31}, {"deflate", 15}, {"deflate", -15}}) {
    absl::StatusOr<HttpResponse> r =
        ParseHttpResponse(Response("Content-Encoding: " + coding + "\r\n", Compress(page, bits)));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->inflated) << coding << bits;
    EXPECT_EQ(r->body, page) << coding << bits;
    EXPECT_FALSE(r->truncated);
  }
}

TEST(HttpResponse, DechunksThenInflates) {
  const std::string page = "<p>" + std::string(300, 'y') + "</p>";
  const std::string gz = Compress(page, 31);
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", gz.size() - 10);
  const std::string body = std::string(size) + "\r\n" + gz.substr(0, gz.size() - 10) + "\r\na\r\n" +
                           gz.substr(gz.size() - 10) + "\r\n0\r\n\r\n";
  absl::StatusOr<HttpResponse> r =
      ParseHttpResponse(Response("Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n", body));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->dechunked);
  EXPECT_TRUE(r->inflated);
  EXPECT_EQ(r->body, page);
}

TEST(HttpResponse, KeepsWhatInflatesFromACutGzipBody) {
  // warcio-example-trunc.warc: the gzipped body lost the last two bytes of its trailer.
  ReadResult result = ReadDataFile("warc-edge/warcio-example-trunc.warc");
  const WarcRecord* response = nullptr;
  for (const WarcRecord& record : result.records) {
    if (record.type == "response") response = &record;
  }
  ASSERT_NE(response, nullptr);
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(response->block);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->inflated);
  EXPECT_TRUE(r->truncated);
  EXPECT_TRUE(absl::StrContains(r->body, "Example Domain"));
}

TEST(HttpResponse, BoundsAGzipBomb) {
  const std::string zeros(64 << 20, '\0');
  const std::string bomb = Compress(zeros, 31);
  ASSERT_LT(bomb.size(), 100000u);
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(Response("Content-Encoding: gzip\r\n", bomb));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_LE(r->body.size(), 32 * bomb.size() + (1 << 20));
}

TEST(HttpResponse, ReportsAContentCodingItCannotUndo) {
  const std::string brotli = "\x8b\x03\x80\x01\x02\x00\x00\x13garbage"s;
  absl::StatusOr<HttpResponse> r = ParseHttpResponse(Response("Content-Encoding: br\r\n", brotli));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content_encoding, "br");
  absl::StatusOr<HttpResponse> bad_gzip =
      ParseHttpResponse(Response("Content-Encoding: gzip\r\n", "\x1f\x8b\x08\x00garbage!!"s));
  ASSERT_TRUE(bad_gzip.ok());
  EXPECT_EQ(bad_gzip->content_encoding, "gzip");
  EXPECT_FALSE(bad_gzip->inflated);
}

}  // namespace
}  // namespace winnow::pipeline
