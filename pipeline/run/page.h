// pipeline/run/page.h — one WARC record to one document: HTTP parse, type check, decode, extract.
#pragma once

#include <string>

#include "pipeline/document.h"
#include "pipeline/html/extractor.h"
#include "pipeline/warc/warc_reader.h"

namespace winnow::pipeline {

// What became of one record on its way to a document.
struct PageOutcome {
  enum class Kind {
    kDocument,  // `doc` holds the page's main text
    kSkipped,   // not a page record (request, metadata, revisit, …): counted, not a drop
    kDropped,   // a page record that yields no document: `reason` says why
  };
  Kind kind = Kind::kDropped;
  std::string
      reason;  // kSkipped: the record type; kDropped: "not_html", "http_status", "decode_error", …
};

// Turns `record` into `doc` (key, id, url, date and text are filled). Response records must carry
// an HTML page (WARC-Identified-Payload-Type, else the HTTP Content-Type, else a sniff of the
// body); WET conversion records are taken as they are.
PageOutcome RecordToDocument(const WarcRecord& record, const ExtractOptions& extract,
                             Document* doc);

}  // namespace winnow::pipeline
