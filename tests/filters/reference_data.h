// tests/filters/reference_data.h — the reference's expectations as data, for the filter tests:
// datatrove's unit-test cases (../shared/data/filters/datatrove_cases.jsonl) and the golden
// decisions datatrove's filters made on real documents (testdata/datatrove_golden.jsonl.gz,
// written by bench/datatrove_parity.py).
#pragma once

#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace winnow::filters::reference {

// The cases of one filter ("gopher_quality", …), in file order.
inline std::vector<nlohmann::json> DatatroveCases(const std::string& filter) {
  std::vector<nlohmann::json> out;
  std::ifstream in(std::string(WINNOW_SHARED_DIR) + "/data/filters/datatrove_cases.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json c = nlohmann::json::parse(line);
    if (c["filter"] == filter) out.push_back(c);
  }
  return out;
}

// Every line of the golden file; empty when it is missing.
inline std::vector<nlohmann::json> DatatroveGolden() {
  std::vector<nlohmann::json> out;
  gzFile f =
      gzopen((std::string(WINNOW_SOURCE_DIR) + "/tests/filters/testdata/datatrove_golden.jsonl.gz")
                 .c_str(),
             "rb");
  if (f == nullptr) return out;
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, n);
  gzclose(f);
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) nl = data.size();
    if (nl > start) out.push_back(nlohmann::json::parse(data.substr(start, nl - start)));
    start = nl + 1;
  }
  return out;
}

}  // namespace winnow::filters::reference
