#include "pipeline/byte_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace winnow::pipeline {
namespace {

class StringByteStream final : public ByteStream {
 public:
  StringByteStream(std::string data, std::string name)
      : data_(std::move(data)), name_(std::move(name)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    const size_t k = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  const std::string& name() const override { return name_; }

 private:
  std::string data_;
  std::string name_;
  size_t pos_ = 0;
};

class FileByteStream final : public ByteStream {
 public:
  FileByteStream(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileByteStream() override { ::close(fd_); }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    while (true) {
      const ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("read ", path_));
    }
  }
  const std::string& name() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ByteStream>> OpenLocalFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::make_unique<FileByteStream>(fd, path);
}

absl::StatusOr<std::string> ReadAll(ByteStream& stream) {
  std::string out;
  size_t used = 0;
  while (true) {
    if (out.size() - used < 65536) out.resize(std::max<size_t>(out.size() * 2, 65536));
    absl::StatusOr<size_t> got = stream.Read(out.data() + used, out.size() - used);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    used += *got;
  }
  out.resize(used);
  return out;
}

std::unique_ptr<ByteStream> StringStream(std::string data, std::string name) {
  return std::make_unique<StringByteStream>(std::move(data), std::move(name));
}

}  // namespace winnow::pipeline
