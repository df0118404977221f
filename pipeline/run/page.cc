#include "pipeline/run/page.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "pipeline/warc/charset.h"
#include "pipeline/warc/http_response.h"

namespace winnow::pipeline {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The MIME type without parameters, lower-cased.
std::string MimeOf(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  std::string_view mime = content_type.substr(0, semi);
  while (!mime.empty() && std::isspace(static_cast<unsigned char>(mime.back()))) {
    mime.remove_suffix(1);
  }
  while (!mime.empty() && std::isspace(static_cast<unsigned char>(mime.front()))) {
    mime.remove_prefix(1);
  }
  return Lower(mime);
}

bool IsHtmlMime(std::string_view mime) {
  return mime == "text/html" || mime == "application/xhtml+xml";
}

// True when the first non-blank bytes of `body` look like markup a browser would render as HTML.
bool LooksLikeHtml(std::string_view body) {
  const std::string head = Lower(body.substr(0, 1024));
  return head.find("<html") != std::string::npos ||
         head.find("<!doctype html") != std::string::npos ||
         head.find("<head") != std::string::npos || head.find("<body") != std::string::npos ||
         head.find("<p") != std::string::npos || head.find("<div") != std::string::npos;
}

PageOutcome Drop(std::string reason) {
  PageOutcome out;
  out.reason = std::move(reason);
  return out;
}

// Runs the URL-only filters; returns true when one dropped the page (outcome filled in).
bool UrlFiltered(const std::vector<const Filter*>& url_filters, Document* doc, PageOutcome* out) {
  out->url_checked = true;
  for (const Filter* filter : url_filters) {
    Verdict verdict = filter->Check(doc);
    if (!verdict.kept) {
      out->kind = PageOutcome::Kind::kFiltered;
      out->reason = std::move(verdict.reason);
      out->filter = std::string(filter->name());
      return true;
    }
  }
  return false;
}

}  // namespace

PageOutcome RecordToDocument(const WarcRecord& record, const ExtractOptions& extract, Document* doc,
                             const std::vector<const Filter*>& url_filters) {
  doc->key.offset = record.offset;
  doc->id = record.record_id;
  doc->url = record.target_uri;
  doc->date = record.date;

  PageOutcome outcome;
  if (record.type == "conversion") {  // WET: Common Crawl's own text extraction
    if (UrlFiltered(url_filters, doc, &outcome)) return outcome;
    absl::StatusOr<std::string> text = DecodeToUtf8(record.block, "utf-8");
    if (!text.ok()) return Drop("decode_error");
    doc->text = std::move(*text);
    if (doc->text.empty()) return Drop("empty");
    outcome.kind = PageOutcome::Kind::kDocument;
    return outcome;
  }
  if (record.type != "response") {
    outcome.kind = PageOutcome::Kind::kSkipped;
    outcome.reason = record.type;
    return outcome;
  }

  absl::StatusOr<HttpResponse> parsed = ParseHttpResponse(record.block);
  if (!parsed.ok()) return Drop("bad_http");
  HttpResponse& http = *parsed;
  if (!http.content_encoding.empty()) return Drop("content_encoding");
  if (http.status != 0 && (http.status < 200 || http.status >= 300)) return Drop("http_status");

  const std::string identified = MimeOf(record.Header("WARC-Identified-Payload-Type"));
  if (!identified.empty()) {
    if (!IsHtmlMime(identified)) return Drop("not_html");
  } else if (!http.content_type.empty() && http.content_type != "application/octet-stream") {
    if (!IsHtmlMime(http.content_type)) return Drop("not_html");
  } else if (!LooksLikeHtml(http.body)) {
    return Drop("not_html");
  }

  if (UrlFiltered(url_filters, doc, &outcome)) return outcome;
  absl::StatusOr<std::string> html = DecodeToUtf8(http.body, http.charset);
  outcome.kind = PageOutcome::Kind::kDropped;
  if (!html.ok()) {
    outcome.reason = "decode_error";
    return outcome;
  }
  Extraction page = ExtractMainText(*html, record.target_uri, extract);
  if (!page.dropped_reason.empty()) {
    outcome.reason = std::move(page.dropped_reason);
    return outcome;
  }
  doc->text = std::move(page.text);
  if (!page.title.empty()) doc->metadata["title"] = std::move(page.title);
  outcome.kind = PageOutcome::Kind::kDocument;
  return outcome;
}

}  // namespace winnow::pipeline
