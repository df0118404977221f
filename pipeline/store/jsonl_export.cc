#include "pipeline/store/jsonl_export.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace winnow::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 1 << 20;  // uncompressed bytes gathered before each compressor call

std::string Extension(ExportCompression compression) {
  return compression == ExportCompression::kZstd ? ".jsonl.zst" : ".jsonl.gz";
}

// "00042.jsonl.gz" or "00042.jsonl.zst" (five digits or more): a file an export writes.
bool IsExportFileName(const std::string& name) {
  size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits < 5) return false;
  const std::string_view rest = std::string_view(name).substr(digits);
  return rest == ".jsonl.gz" || rest == ".jsonl.zst";
}

absl::Status ErrnoError(std::string_view what, const std::string& path, int err) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", strerror(err)));
}

// One compressed output file, written under a temporary name and renamed by Finish().
class CompressedFile {
 public:
  CompressedFile(ExportCompression compression, int level)
      : compression_(compression), level_(level) {}
  ~CompressedFile() { Abort(); }
  CompressedFile(const CompressedFile&) = delete;
  CompressedFile& operator=(const CompressedFile&) = delete;

  absl::Status Open(const std::string& tmp_path, const std::string& final_path) {
    tmp_path_ = tmp_path;
    final_path_ = final_path;
    fd_ = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoError("cannot create", tmp_path, errno);
    if (compression_ == ExportCompression::kGzip) {
      // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
      const int level = level_ < 0 ? Z_DEFAULT_COMPRESSION : level_;
      if (deflateInit2(&zstream_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return absl::InternalError("deflateInit2 failed");
      }
      zstream_open_ = true;
    } else {
      zcctx_ = ZSTD_createCCtx();
      if (zcctx_ == nullptr) return absl::InternalError("ZSTD_createCCtx failed");
      const int level = level_ < 0 ? ZSTD_CLEVEL_DEFAULT : level_;
      if (ZSTD_isError(ZSTD_CCtx_setParameter(zcctx_, ZSTD_c_compressionLevel, level)) ||
          ZSTD_isError(ZSTD_CCtx_setParameter(zcctx_, ZSTD_c_checksumFlag, 1))) {
        return absl::InvalidArgumentError(absl::StrCat("bad zstd level ", level));
      }
    }
    out_.resize(kChunk);
    return absl::OkStatus();
  }

  absl::Status Write(std::string_view data) {
    pending_.append(data);
    if (pending_.size() < kChunk) return absl::OkStatus();
    return Compress(/*finish=*/false);
  }

  // Flushes the compressor, fsyncs and renames the file to its final name.
  absl::Status Finish() {
    if (absl::Status status = Compress(/*finish=*/true); !status.ok()) return status;
    if (::fsync(fd_) != 0) return ErrnoError("cannot sync", tmp_path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError("cannot close", tmp_path_, errno);
    if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
      return ErrnoError(absl::StrCat("cannot rename to ", final_path_, ":"), tmp_path_, errno);
    }
    tmp_path_.clear();
    return absl::OkStatus();
  }

  // Closes and removes the temporary file unless Finish() succeeded.
  void Abort() {
    if (zstream_open_) deflateEnd(&zstream_);
    zstream_open_ = false;
    if (zcctx_ != nullptr) ZSTD_freeCCtx(zcctx_);
    zcctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
  }

  int64_t bytes() const { return bytes_; }

 private:
  absl::Status Compress(bool finish) {
    if (compression_ == ExportCompression::kGzip) {
      zstream_.next_in = reinterpret_cast<Bytef*>(pending_.data());
      zstream_.avail_in = static_cast<uInt>(pending_.size());
      int ret;
      do {
        zstream_.next_out = reinterpret_cast<Bytef*>(out_.data());
        zstream_.avail_out = static_cast<uInt>(out_.size());
        ret = deflate(&zstream_, finish ? Z_FINISH : Z_NO_FLUSH);
        if (ret == Z_STREAM_ERROR) return absl::InternalError("deflate failed");
        if (absl::Status status = Emit(out_.size() - zstream_.avail_out); !status.ok()) {
          return status;
        }
      } while (zstream_.avail_out == 0 || (finish && ret != Z_STREAM_END));
    } else {
      ZSTD_inBuffer in{pending_.data(), pending_.size(), 0};
      size_t remaining;
      do {
        ZSTD_outBuffer out{out_.data(), out_.size(), 0};
        remaining = ZSTD_compressStream2(zcctx_, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(remaining)) {
          return absl::InternalError(
              absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(remaining)));
        }
        if (absl::Status status = Emit(out.pos); !status.ok()) return status;
      } while (finish ? remaining != 0 : in.pos < in.size);
    }
    pending_.clear();
    return absl::OkStatus();
  }

  absl::Status Emit(size_t size) {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, out_.data() + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoError("cannot write", tmp_path_, n < 0 ? errno : ENOSPC);
      done += static_cast<size_t>(n);
    }
    bytes_ += static_cast<int64_t>(size);
    return absl::OkStatus();
  }

  ExportCompression compression_;
  int level_;
  int fd_ = -1;
  std::string tmp_path_, final_path_;
  z_stream zstream_{};
  bool zstream_open_ = false;
  ZSTD_CCtx* zcctx_ = nullptr;
  std::string pending_;
  std::vector<char> out_;
  int64_t bytes_ = 0;
};

}  // namespace

absl::StatusOr<ExportSummary> ExportJsonl(ShardStore& store, const std::string& out_dir,
                                          const JsonlExportOptions& options) {
  if (options.max_documents_per_file < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_documents_per_file must be positive, not ",
                                                   options.max_documents_per_file));
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  std::set<std::string> earlier;  // numbered files of an earlier export
  for (fs::directory_iterator it(out_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (IsExportFileName(name)) earlier.insert(name);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", out_dir, ": ", ec.message()));
  if (!options.overwrite && !earlier.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(out_dir, " already holds an export (", *earlier.begin(), ")"));
  }

  const std::string extension = Extension(options.compression);
  ExportSummary summary;
  std::unique_ptr<CompressedFile> file;
  int64_t in_file = 0;
  std::set<std::string> written;
  absl::Status status;
  const auto finish_file = [&]() {
    status = file->Finish();
    summary.bytes += file->bytes();
    file.reset();
    in_file = 0;
    return status.ok();
  };
  std::string line;
  const absl::Status scan = store.ForEachDocument(
      [&](const Document& doc) {
        if (file == nullptr) {
          const std::string name = absl::StrFormat("%05d%s", summary.files, extension);
          file = std::make_unique<CompressedFile>(options.compression, options.level);
          status = file->Open((fs::path(out_dir) / absl::StrCat(".", name, ".tmp")).string(),
                              (fs::path(out_dir) / name).string());
          if (!status.ok()) return false;
          ++summary.files;
          written.insert(name);
        }
        line = ToDatatroveJson(doc).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        line += '\n';
        status = file->Write(line);
        if (!status.ok()) return false;
        ++summary.documents;
        if (++in_file == options.max_documents_per_file) return finish_file();
        return true;
      },
      options.include_duplicates ? ShardStore::DocumentSet::kAll : ShardStore::DocumentSet::kKept);
  if (status.ok() && !scan.ok()) status = scan;
  if (status.ok() && file != nullptr) finish_file();
  if (!status.ok()) return status;  // `file`, if any, removes its temporary file

  // The renames are durable once the directory is synced.
  if (const int dir_fd = ::open(out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  for (const std::string& name : earlier) {
    if (written.count(name) == 0) fs::remove(fs::path(out_dir) / name, ec);
  }
  return summary;
}

}  // namespace winnow::pipeline
