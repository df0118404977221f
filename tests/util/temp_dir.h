// tests/util/temp_dir.h — a fresh directory under /tmp, removed with its contents at scope end.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace winnow::testing {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/winnow_test_XXXXXX";
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

}  // namespace winnow::testing
