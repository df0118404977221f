// bench/pipeline_speed_bench.cc — single-core speed of each stage on a real-page corpus.
//
//   build/bench/pipeline_speed_bench bench/out/corpus.warc.gz [--records N]
//
// Prints one JSON object: per stage, seconds, records (or pages) per second and MB per second,
// all on one thread, so the figures are "per core". Stages:
//   read        inflate + WARC parse + HTTP parse of every record (MB = uncompressed HTML bytes)
//   gumbo       gumbo_parse of each page's original bytes, nothing else (the floor to compare with)
//   extract     ExtractMainText of each page (prescan + gumbo + main-content detection)
//   end_to_end  read → decode → extract, the path `winnow run` takes per record
#include <gumbo.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline/byte_stream.h"
#include "pipeline/html/extractor.h"
#include "pipeline/run/page.h"
#include "pipeline/stats.h"
#include "pipeline/warc/http_response.h"
#include "pipeline/warc/warc_reader.h"

namespace {

using winnow::pipeline::Document;
using winnow::pipeline::RecordReader;
using winnow::pipeline::Stats;
using winnow::pipeline::WarcRecord;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::unique_ptr<RecordReader> OpenOrDie(const std::string& path) {
  auto in = winnow::pipeline::OpenLocalFile(path);
  if (!in.ok()) {
    std::fprintf(stderr, "%s\n", in.status().ToString().c_str());
    std::exit(1);
  }
  return RecordReader::Open(std::move(*in));
}

void Print(const char* stage, double seconds, size_t n, size_t bytes, bool last = false) {
  std::printf(
      "  \"%s\": {\"seconds\": %.3f, \"count\": %zu, \"per_s\": %.1f, \"mb_per_s\": %.1f}%s\n",
      stage, seconds, n, n / seconds, bytes / 1e6 / seconds, last ? "" : ",");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS.warc.gz [--records N]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  size_t max_records = SIZE_MAX;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--records") == 0)
      max_records = std::strtoull(argv[i + 1], nullptr, 10);
  }

  // Stage 1: read. Bodies are kept for the later stages (the corpus fits in memory).
  std::vector<std::string> pages;
  size_t html_bytes = 0;
  {
    auto reader = OpenOrDie(path);
    Stats stats;
    WarcRecord record;
    const auto t0 = Clock::now();
    while (pages.size() < max_records) {
      auto more = reader->Next(&record, &stats);
      if (!more.ok() || !*more) break;
      if (record.type != "response") continue;
      auto http = winnow::pipeline::ParseHttpResponse(record.block);
      if (!http.ok()) continue;
      html_bytes += http->body.size();
      pages.push_back(std::move(http->body));
    }
    std::printf("{\n  \"corpus\": \"%s\", \"pages\": %zu, \"html_mb\": %.1f,\n", path.c_str(),
                pages.size(), html_bytes / 1e6);
    Print("read", Seconds(t0), pages.size(), html_bytes);
  }
  // Stage 2: gumbo's bare parse.
  {
    const auto t0 = Clock::now();
    for (const std::string& page : pages) {
      GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, page.data(), page.size());
      gumbo_destroy_output(&kGumboDefaultOptions, out);
    }
    Print("gumbo", Seconds(t0), pages.size(), html_bytes);
  }
  // Stage 3: extraction.
  size_t text_bytes = 0;
  {
    const auto t0 = Clock::now();
    for (const std::string& page : pages) {
      text_bytes += winnow::pipeline::ExtractMainText(page, "").text.size();
    }
    Print("extract", Seconds(t0), pages.size(), html_bytes);
  }
  // Stage 4: the whole per-record path, from the file again.
  {
    auto reader = OpenOrDie(path);
    Stats stats;
    WarcRecord record;
    size_t n = 0, docs = 0;
    const auto t0 = Clock::now();
    while (n < max_records) {
      auto more = reader->Next(&record, &stats);
      if (!more.ok() || !*more) break;
      if (record.type == "response") ++n;
      Document doc;
      auto outcome = winnow::pipeline::RecordToDocument(record, {}, &doc);
      if (outcome.kind == winnow::pipeline::PageOutcome::Kind::kDocument) ++docs;
    }
    Print("end_to_end", Seconds(t0), n, html_bytes, true);
    std::printf("}\n");
    std::fprintf(stderr, "%zu documents, %.1f MB of text\n", docs, text_bytes / 1e6);
  }
  return 0;
}
