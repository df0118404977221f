// tests/pipeline/store/store_test_util.h — temporary directories and documents for store tests.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "pipeline/document.h"

namespace winnow::pipeline::testing {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/winnow_store_test_XXXXXX";
    const char* made = ::mkdtemp(pattern);
    path_ = made == nullptr ? std::string() : std::string(made);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

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

// Runs a shell command; returns its exit status and puts its standard output in `out`.
inline int RunCommand(const std::string& command, std::string* out) {
  out->clear();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace winnow::pipeline::testing
