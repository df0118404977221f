#include "pipeline/warc/charset.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "pipeline/warc/http_response.h"
#include "tests/pipeline/warc/read_helper.h"

namespace winnow::pipeline {
namespace {

using namespace std::string_literals;
using testing::ReadDataFile;
using testing::ReadResult;

// The HTTP response of the record for `url` in a shared data file.
HttpResponse ResponseFor(const std::string& file, const std::string& url) {
  ReadResult result = ReadDataFile(file);
  for (const WarcRecord& record : result.records) {
    if (record.type == "response" && record.target_uri == url) {
      absl::StatusOr<HttpResponse> r = ParseHttpResponse(record.block);
      EXPECT_TRUE(r.ok());
      if (r.ok()) return *r;
    }
  }
  ADD_FAILURE() << "no response for " << url << " in " << file;
  return {};
}

constexpr char kCc2020[] = "commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz";

TEST(Charset, ValidUtf8PassesThroughWithoutItsBom) {
  EXPECT_EQ(DecodeToUtf8("plain ascii", "").value(), "plain ascii");
  EXPECT_EQ(DecodeToUtf8("caf\xC3\xA9 \xE4\xB8\xAD\xF0\x9F\x98\x80", "windows-1251").value(),
            "caf\xC3\xA9 \xE4\xB8\xAD\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodeToUtf8("\xEF\xBB\xBFhello", "iso-8859-1").value(), "hello");
}

TEST(Charset, ValidatesUtf8Strictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(std::string(100, 'a') + "\xC3\xA9" + std::string(100, 'b')));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));                  // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                         // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));                     // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                     // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));                 // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8(std::string(40, 'a') + "\xE4\xB8"));  // cut at the end
  EXPECT_FALSE(IsValidUtf8("\xE9t\xE9"));                        // latin-1
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(Charset, SniffsMetaCharsetInBothForms) {
  EXPECT_EQ(SniffMetaCharset("<html><head><META CHARSET=\"Shift_JIS\">"), "shift_jis");
  EXPECT_EQ(SniffMetaCharset("<meta http-equiv=\"Content-Type\" "
                             "content=\"text/html; charset=gb2312\" />"),
            "gb2312");
  EXPECT_EQ(SniffMetaCharset("<meta name=description content=\"charset\"><p>charset=x</p>"), "");
  EXPECT_EQ(SniffMetaCharset(std::string(5000, ' ') + "<meta charset=utf-8>"), "");
}

TEST(Charset, DecodesTheWindows1251PageFromCommonCrawl) {
  const HttpResponse page = ResponseFor(kCc2020, "http://01spb.ru/company/");
  EXPECT_EQ(page.charset, "windows-1251");
  ASSERT_FALSE(IsValidUtf8(page.body));
  absl::StatusOr<std::string> text = DecodeToUtf8(page.body, page.charset);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(IsValidUtf8(*text));
  EXPECT_TRUE(absl::StrContains(*text, "О компании"));
  EXPECT_TRUE(absl::StrContains(*text, "пожарной безопасности"));
}

TEST(Charset, DecodesTheGb2312PageFromCommonCrawl) {
  const HttpResponse page = ResponseFor(kCc2020, "http://0760.jxtdw.com/area/sanxiang/");
  EXPECT_EQ(page.charset, "gb2312");
  absl::StatusOr<std::string> text = DecodeToUtf8(page.body, page.charset);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(absl::StrContains(*text, "招聘"));
  EXPECT_TRUE(absl::StrContains(*text, "中山"));
  EXPECT_TRUE(absl::StrContains(*text, "公司"));
}

TEST(Charset, FindsGbkInAMetaTagWhenHttpSaysNothing) {
  const HttpResponse page = ResponseFor(kCc2020, "http://041696.com/15477/list_6_4.html");
  EXPECT_EQ(page.charset, "");
  EXPECT_EQ(SniffMetaCharset(page.body), "gbk");
  absl::StatusOr<std::string> text = DecodeToUtf8(page.body, "");
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(absl::StrContains(*text, "香港"));
}

TEST(Charset, DecodesEucJpFromClueWeb) {
  const HttpResponse page =
      ResponseFor("warc-edge/clueweb-quirk.warc.gz",
                  "http://www.uraharajuku.st/shopdetail/001005000005/019/000/order/");
  for (const std::string declared : {"euc-jp", ""}) {
    absl::StatusOr<std::string> text = DecodeToUtf8(page.body, declared);
    ASSERT_TRUE(text.ok());
    EXPECT_TRUE(absl::StrContains(*text, "ブリーフケース")) << declared;
    EXPECT_TRUE(absl::StrContains(*text, "吉田かばん")) << declared;
  }
}

TEST(Charset, DetectsWindows1251WithoutAnyDeclaration) {
  HttpResponse page = ResponseFor(kCc2020, "http://01spb.ru/company/");
  std::string body = page.body;
  for (size_t at = 0; (at = body.find("charset", at)) != std::string::npos;) body[at] = 'x';
  ASSERT_EQ(SniffMetaCharset(body), "");
  absl::StatusOr<std::string> text = DecodeToUtf8(body, "");
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(absl::StrContains(*text, "О компании"));
}

TEST(Charset, TreatsLatin1LabelsAsWindows1252) {
  for (const char* label : {"iso-8859-1", "ISO-8859-1", "us-ascii", "latin1", "windows-1252"}) {
    absl::StatusOr<std::string> text = DecodeToUtf8("\x93quoted\x94 caf\xE9 \x80", label);
    ASSERT_TRUE(text.ok()) << label;
    EXPECT_EQ(*text, "\xE2\x80\x9Cquoted\xE2\x80\x9D caf\xC3\xA9 \xE2\x82\xAC") << label;
  }
}

TEST(Charset, DecodesShiftJisAndIso8859Labels) {
  EXPECT_EQ(DecodeToUtf8("\x93\xFA\x96\x7B\x8C\xEA", "shift_jis").value(), "日本語");
  EXPECT_EQ(DecodeToUtf8("\xC1\xDC\xF3", "iso-8859-7").value(), "Αάσ");
  EXPECT_EQ(DecodeToUtf8("\xB1\xE6", "iso-8859-2").value(), "ąć");
}

TEST(Charset, FallsBackWhenTheDeclaredCharsetIsWrongOrUnknown) {
  // Declared UTF-8 but windows-1252 bytes.
  const std::string french =
      "Le caf\xE9"
      " na\xEF"
      "f de la r\xE9"
      "gion est tr\xE8"
      "s appr\xE9"
      "ci\xE9"
      " : on y d\xE9"
      "guste une cr\xE8"
      "me br\xFB"
      "l\xE9"
      "e pr\xE9"
      "par\xE9"
      "e \xE0"
      " l'ancienne, pr\xE8"
      "s de la fen\xEA"
      "tre.";
  absl::StatusOr<std::string> text = DecodeToUtf8(french, "utf-8");
  ASSERT_TRUE(text.ok());
  EXPECT_TRUE(absl::StrContains(*text, "Le café naïf de la région est très apprécié")) << *text;
  EXPECT_EQ(DecodeToUtf8("caf\xE9", "no-such-charset").value(), "caf\xC3\xA9");
}

TEST(Charset, DecodesUtf16WithABom) {
  EXPECT_EQ(DecodeToUtf8("\xFF\xFEh\0i\0"s, "").value(), "hi");
  EXPECT_EQ(DecodeToUtf8("\xFE\xFF\0h\0i"s, "").value(), "hi");
}

TEST(Charset, FailsOnBinaryData) {
  std::string binary;
  for (int i = 0; i < 4000; ++i) binary.push_back(static_cast<char>((i * 7) % 32));
  binary[1] = '\x81';
  absl::StatusOr<std::string> text = DecodeToUtf8(binary, "");
  EXPECT_FALSE(text.ok());
  EXPECT_TRUE(absl::StrContains(std::string(text.status().message()), "decode_error"));
}

}  // namespace
}  // namespace winnow::pipeline
