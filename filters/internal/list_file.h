// filters/internal/list_file.h — reads word lists and blocklists: plain or gzip-compressed (zlib
// tells them apart by content), one entry per line. Lines whose first byte is '#' are comments, as
// in datatrove's lists (`#mong` is a disabled entry); a trailing "\r" is dropped; empty lines are
// skipped. Header-only: filters/ compiles only its top-level .cc files.
#pragma once

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace winnow::filters::internal {

// Calls on_line(std::string_view) for every entry of the file at `path`. A file that cannot be
// opened or read is an error naming `path`.
template <typename OnLine>
absl::Status ReadListFile(const std::string& path, OnLine&& on_line) {
  if (path.empty()) return absl::InvalidArgumentError("empty list file path");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    return absl::NotFoundError(
        absl::StrCat("cannot open list file ", path, ": ", error != 0 ? std::strerror(error) : ""));
  }
  gzbuffer(file, 1 << 17);
  auto emit = [&](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') return;
    on_line(line);
  };
  std::string pending;
  char buffer[1 << 16];
  absl::Status status;
  while (true) {
    const int n = gzread(file, buffer, sizeof(buffer));
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      status = absl::DataLossError(absl::StrCat("cannot read list file ", path, ": ",
                                                code == Z_ERRNO ? std::strerror(errno) : message));
      break;
    }
    if (n == 0) break;
    std::string_view chunk(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = chunk.find('\n')) != std::string_view::npos) {
      if (pending.empty()) {
        emit(chunk.substr(0, newline));
      } else {
        pending.append(chunk.data(), newline);
        emit(pending);
        pending.clear();
      }
      chunk.remove_prefix(newline + 1);
    }
    pending.append(chunk.data(), chunk.size());
  }
  gzclose(file);
  if (status.ok() && !pending.empty()) emit(pending);
  return status;
}

}  // namespace winnow::filters::internal
