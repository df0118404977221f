#include "pipeline/run/page.h"

#include <gtest/gtest.h>

namespace winnow::pipeline {
namespace {

WarcRecord Response(const std::string& http, const std::string& identified = "") {
  WarcRecord r;
  r.version = "WARC/1.0";
  r.type = "response";
  r.record_id = "<urn:uuid:1>";
  r.target_uri = "https://example.org/a";
  r.date = "2024-05-01T00:00:00Z";
  r.offset = 1234;
  if (!identified.empty()) r.headers.emplace_back("WARC-Identified-Payload-Type", identified);
  r.block = http;
  return r;
}

const char kArticle[] =
    "<html><head><title>T</title></head><body><nav><a href=/>Home</a></nav><article><p>"
    "A long enough paragraph about rivers, mountains, and the people who live between them, "
    "written so that the extractor has real prose to keep. It goes on, with commas, clauses, and "
    "the plain rhythm of an article that somebody would want to read from start to end.</p><p>"
    "A second paragraph follows, saying more about the same rivers and mountains, so that the "
    "article has the length of a real page and not of a fragment.</p><p>And a third one, "
    "because real articles have several paragraphs, each with a few sentences of their own, "
    "and extraction keeps them all.</p></article></body></html>";

TEST(RecordToDocument, HtmlResponseBecomesADocumentWithItsWarcFields) {
  Document doc;
  PageOutcome o = RecordToDocument(
      Response(std::string("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n") +
               kArticle),
      {}, &doc);
  ASSERT_EQ(o.kind, PageOutcome::Kind::kDocument) << o.reason;
  EXPECT_EQ(doc.id, "<urn:uuid:1>");
  EXPECT_EQ(doc.url, "https://example.org/a");
  EXPECT_EQ(doc.date, "2024-05-01T00:00:00Z");
  EXPECT_EQ(doc.key.offset, 1234u);
  EXPECT_NE(doc.text.find("rivers, mountains"), std::string::npos);
  EXPECT_EQ(doc.text.find("Home"), std::string::npos);
}

TEST(RecordToDocument, NonPageRecordsAreSkippedByType) {
  WarcRecord r = Response("GET / HTTP/1.1\r\n\r\n");
  r.type = "request";
  Document doc;
  PageOutcome o = RecordToDocument(r, {}, &doc);
  EXPECT_EQ(o.kind, PageOutcome::Kind::kSkipped);
  EXPECT_EQ(o.reason, "request");
}

TEST(RecordToDocument, DropsErrorsRedirectsAndNonHtmlWithAReason) {
  Document doc;
  EXPECT_EQ(RecordToDocument(Response("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n" +
                                      std::string(kArticle)),
                             {}, &doc)
                .reason,
            "http_status");
  EXPECT_EQ(RecordToDocument(Response("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG"),
                             {}, &doc)
                .reason,
            "not_html");
  // The identified payload type wins over a lying Content-Type.
  EXPECT_EQ(RecordToDocument(Response("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n%PDF-1.4",
                                      "application/pdf"),
                             {}, &doc)
                .reason,
            "not_html");
  // No type anywhere: the body is sniffed.
  EXPECT_EQ(
      RecordToDocument(Response(std::string("HTTP/1.1 200 OK\r\n\r\n") + kArticle), {}, &doc).kind,
      PageOutcome::Kind::kDocument);
}

TEST(RecordToDocument, DecodesADeclaredLegacyCharset) {
  // "Привет, мир" in windows-1251, repeated into an article.
  const std::string hello = "\xCF\xF0\xE8\xE2\xE5\xF2, \xEC\xE8\xF0. ";
  std::string body = "<html><body><article><p>";
  for (int i = 0; i < 40; ++i) body += hello;
  body += "</p></article></body></html>";
  Document doc;
  PageOutcome o = RecordToDocument(
      Response("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=windows-1251\r\n\r\n" + body),
      {}, &doc);
  ASSERT_EQ(o.kind, PageOutcome::Kind::kDocument) << o.reason;
  EXPECT_NE(doc.text.find("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"), std::string::npos)
      << doc.text;
}

TEST(RecordToDocument, WetConversionRecordsAreTakenAsText) {
  WarcRecord r = Response("Plain text of a page.\nSecond line.");
  r.type = "conversion";
  Document doc;
  PageOutcome o = RecordToDocument(r, {}, &doc);
  ASSERT_EQ(o.kind, PageOutcome::Kind::kDocument);
  EXPECT_EQ(doc.text, "Plain text of a page.\nSecond line.");
}

}  // namespace
}  // namespace winnow::pipeline
