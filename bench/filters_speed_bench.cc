// bench/filters_speed_bench.cc — single-core speed of each filter of the FineWeb recipe on real
// text.
//
//   build/bench/filters_speed_bench tests/filters/testdata/datatrove_golden.jsonl.gz [--rounds N]
//       [--ids PREFIX]   (only documents whose id starts with PREFIX, e.g. dev/ for web articles)
//
// Runs every filter on its own over every document (as bench/datatrove_filters_speed.py does for
// the reference), then the whole chain, and prints MB/s of input text per filter as JSON.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "filters/registry.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Doc {
  std::string id, text, url;
};

std::vector<Doc> Load(const char* path, const std::string& id_prefix) {
  std::vector<Doc> docs;
  gzFile f = gzopen(path, "rb");
  if (f == nullptr) return docs;
  std::string line;
  char buf[1 << 16];
  while (gzgets(f, buf, sizeof buf) != nullptr) {
    line += buf;
    if (line.back() != '\n') continue;
    nlohmann::json j = nlohmann::json::parse(line);
    line.clear();
    if (j.value("url_only", false)) continue;
    if (j["id"].get<std::string>().rfind(id_prefix, 0) != 0) continue;
    docs.push_back({j["id"], j["text"], j["url"]});
  }
  gzclose(f);
  return docs;
}

// Seconds per round to pass every document through `chain`; with `stop_at_drop` false every
// filter sees every document (the stage's full cost), as when each runs on its own.
double Run(const std::vector<Doc>& docs, const std::vector<const winnow::pipeline::Filter*>& chain,
           int rounds, bool stop_at_drop = true) {
  const auto t0 = Clock::now();
  size_t kept = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const Doc& d : docs) {
      winnow::pipeline::Document doc;
      doc.text = d.text;
      doc.url = d.url;
      bool ok = true;
      for (const auto* f : chain) {
        if (!f->Check(&doc).kept) {
          ok = false;
          if (stop_at_drop) break;
        }
      }
      kept += ok;
    }
  }
  if (kept == SIZE_MAX) std::printf("impossible\n");
  return std::chrono::duration<double>(Clock::now() - t0).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GOLDEN.jsonl.gz [--rounds N]\n", argv[0]);
    return 2;
  }
  int rounds = 3;
  std::string id_prefix;  // e.g. "dev/": only the extracted web pages
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--ids") == 0) id_prefix = argv[i + 1];
  }
  const std::vector<Doc> docs = Load(argv[1], id_prefix);
  size_t bytes = 0;
  for (const Doc& d : docs) bytes += d.text.size();
  auto chain = winnow::filters::BuildFilterChain(YAML::Node(), {}, "<bench>");
  if (!chain.ok()) {
    std::fprintf(stderr, "%s\n", chain.status().ToString().c_str());
    return 1;
  }
  std::printf("{\n  \"documents\": %zu, \"text_mb\": %.2f,\n", docs.size(), bytes / 1e6);
  std::vector<const winnow::pipeline::Filter*> all, all_but_language;
  for (const auto& f : chain->filters) {
    const double s = Run(docs, {f.get()}, rounds);
    std::printf("  \"%s\": {\"seconds\": %.4f, \"mb_per_s\": %.1f, \"docs_per_s\": %.0f},\n",
                std::string(f->name()).c_str(), s, bytes / 1e6 / s, docs.size() / s);
    all.push_back(f.get());
    if (f->name() != "language") all_but_language.push_back(f.get());
  }
  // Every filter but language on every document, no early exit, sharing one tokenization per
  // document as the chain does: the cost of everything except language ID.
  const double but_language = Run(docs, all_but_language, rounds, /*stop_at_drop=*/false);
  const double chain_s = Run(docs, all, rounds);
  std::printf("  \"all_but_language\": {\"seconds\": %.4f, \"mb_per_s\": %.1f},\n", but_language,
              bytes / 1e6 / but_language);
  std::printf("  \"chain\": {\"seconds\": %.4f, \"mb_per_s\": %.1f, \"docs_per_s\": %.0f}\n}\n",
              chain_s, bytes / 1e6 / chain_s, docs.size() / chain_s);
  return 0;
}
