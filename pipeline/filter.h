// pipeline/filter.h — the step contract: a filter answers keep, or drop with a reason (datatrove).
#pragma once

#include <string>
#include <string_view>

#include "pipeline/document.h"

namespace winnow::pipeline {

struct Verdict {
  bool kept = true;
  std::string reason;  // set when dropped: the reference's reason name, e.g. "gopher_short_doc"

  static Verdict Keep() { return {}; }
  static Verdict Drop(std::string reason) { return {false, std::move(reason)}; }
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;  // "url", "language", "gopher_quality", …
  // Decides on `doc`. A filter may add scores to doc->metadata and, for modifiers such as PII
  // redaction, rewrite doc->text. Must be safe to call from many threads at once.
  virtual Verdict Check(Document* doc) const = 0;
  // True when Check reads only doc->url (and metadata), never the text: the run then applies the
  // filter before extraction and saves the parse of pages it drops.
  virtual bool UrlOnly() const { return false; }
};

}  // namespace winnow::pipeline
