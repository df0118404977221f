// pipeline/run/page.h — one WARC record to one document: HTTP parse, type check, decode, extract.
#pragma once

#include <string>
#include <vector>

#include "pipeline/document.h"
#include "pipeline/filter.h"
#include "pipeline/html/extractor.h"
#include "pipeline/warc/warc_reader.h"

namespace winnow::pipeline {

// What became of one record on its way to a document.
struct PageOutcome {
  enum class Kind {
    kDocument,  // `doc` holds the page's main text
    kSkipped,   // not a page record (request, metadata, revisit, …): counted, not a drop
    kDropped,   // a page record that yields no document: `reason` says why
    kFiltered,  // a URL-only filter (`filter`) dropped the page before extraction
  };
  Kind kind = Kind::kDropped;
  // kSkipped: the record type; kDropped: "not_html", "http_status", "decode_error", …;
  // kFiltered: the filter's reason.
  std::string reason;
  std::string filter;        // kFiltered: the filter's name
  bool url_checked = false;  // the URL-only filters ran (all before `filter` kept the page)
};

// Turns `record` into `doc` (key, id, url, date and text are filled). Response records must carry
// an HTML page (WARC-Identified-Payload-Type, else the HTTP Content-Type, else a sniff of the
// body); WET conversion records are taken as they are. `url_filters` (filters whose UrlOnly() is
// true) run between the type check and extraction, as in the reference, so the pages they drop
// cost no parse.
PageOutcome RecordToDocument(const WarcRecord& record, const ExtractOptions& extract, Document* doc,
                             const std::vector<const Filter*>& url_filters = {});

}  // namespace winnow::pipeline
