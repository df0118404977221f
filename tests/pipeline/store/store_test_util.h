// tests/pipeline/store/store_test_util.h — temporary directories and documents for store tests.
#pragma once

#include <string>

#include "pipeline/document.h"
#include "tests/util/shell.h"
#include "tests/util/temp_dir.h"

namespace winnow::pipeline::testing {

using winnow::testing::RunCommand;
using winnow::testing::TempDir;

inline Document MakeDoc(const std::string& snapshot, const std::string& input, uint64_t offset,
                        const std::string& text = "") {
  Document doc;
  doc.key = {snapshot, input, offset};
  doc.id = "<urn:uuid:" + input + "-" + std::to_string(offset) + ">";
  doc.url = "https://example.com/" + input + "/" + std::to_string(offset);
  doc.date = "2024-05-18T12:34:56Z";
  doc.text = text.empty() ? "text of " + input + " at " + std::to_string(offset) : text;
  return doc;
}

}  // namespace winnow::pipeline::testing
