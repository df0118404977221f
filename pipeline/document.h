// pipeline/document.h — one web page on its way through the pipeline.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace winnow::pipeline {

// Where a document came from; orders documents deterministically across runs and workers.
struct DocumentKey {
  std::string snapshot;  // e.g. "CC-MAIN-2024-22"; empty when unknown
  std::string input;     // the input file or URL as given (after paths-file expansion)
  uint64_t offset = 0;   // byte offset of the record in the (compressed) input

  // A byte string that sorts as (snapshot, input, offset): usable as a RocksDB key.
  std::string Encode() const;
  static bool Decode(std::string_view encoded, DocumentKey* key);
};

struct Document {
  DocumentKey key;
  std::string id;                                      // WARC-Record-ID, e.g. "<urn:uuid:…>"
  std::string url;                                     // WARC-Target-URI
  std::string date;                                    // WARC-Date (ISO 8601)
  std::string text;                                    // main text, UTF-8
  nlohmann::json metadata = nlohmann::json::object();  // scores and facts filters add
};

// datatrove's schema: {"text", "id", "metadata": {"url", "date", "dump", …}}.
nlohmann::json ToDatatroveJson(const Document& doc);

}  // namespace winnow::pipeline
