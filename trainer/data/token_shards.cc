#include "trainer/data/token_shards.h"

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kMagic16 = 20240520, kVersion16 = 1;
constexpr int32_t kMagic32 = 20240801, kVersion32 = 7;

// One shard file being written: tokens appended, header patched with the count at the end,
// written under a temporary name and renamed when complete.
class ShardWriter {
 public:
  ShardWriter(std::string path, bool wide) : path_(std::move(path)), wide_(wide) {
    out_.open(path_ + ".tmp", std::ios::binary | std::ios::trunc);
    std::array<int32_t, 256> header{};
    out_.write(reinterpret_cast<const char*>(header.data()), sizeof(header));
  }
  bool ok() const { return static_cast<bool>(out_); }
  void Append(const uint32_t* tokens, size_t n) {
    if (wide_) {
      out_.write(reinterpret_cast<const char*>(tokens), static_cast<std::streamsize>(n * 4));
    } else {
      buffer_.resize(n);
      for (size_t i = 0; i < n; ++i) buffer_[i] = static_cast<uint16_t>(tokens[i]);
      out_.write(reinterpret_cast<const char*>(buffer_.data()),
                 static_cast<std::streamsize>(n * 2));
    }
    count_ += static_cast<int64_t>(n);
  }
  absl::Status Finish() {
    std::array<int32_t, 256> header{};
    header[0] = wide_ ? kMagic32 : kMagic16;
    header[1] = wide_ ? kVersion32 : kVersion16;
    header[2] = static_cast<int32_t>(count_);
    out_.seekp(0);
    out_.write(reinterpret_cast<const char*>(header.data()), sizeof(header));
    out_.close();
    if (!out_) return absl::InternalError(absl::StrCat("cannot write ", path_));
    std::error_code ec;
    fs::rename(path_ + ".tmp", path_, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("cannot rename to ", path_, ": ", ec.message()));
    return absl::OkStatus();
  }
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool wide_;
  std::ofstream out_;
  std::vector<uint16_t> buffer_;
  int64_t count_ = 0;
};

struct Doc {
  std::string text;
  std::vector<uint32_t> ids;
};

}  // namespace

absl::StatusOr<TokenShardSummary> ExportTokenShards(pipeline::ShardStore& store,
                                                    const Tokenizer& tokenizer,
                                                    const std::string& out_dir,
                                                    const TokenShardOptions& options) {
  const std::optional<TokenId> eot = tokenizer.eot();
  if (!eot.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tokenizer ", tokenizer.name(), " has no <|endoftext|> token to separate documents"));
  }
  if (options.tokens_per_shard < 1 || options.val_tokens < 0) {
    return absl::InvalidArgumentError("tokens per shard must be >= 1 and validation tokens >= 0");
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  // Earlier shards of this name go: a shorter export must not leave stale ones behind.
  for (const auto& entry : fs::directory_iterator(out_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(options.name + "_", 0) == 0 && entry.path().extension() == ".bin") {
      fs::remove(entry.path(), ec);
    }
  }
  const bool wide = tokenizer.vocab_size() > 65536;
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(threads));

  TokenShardSummary summary;
  nlohmann::json shards = nlohmann::json::array();
  std::set<std::string> snapshots;
  std::unique_ptr<ShardWriter> writer;
  int64_t shard_docs = 0;
  absl::Status status;
  const auto open_next = [&]() {
    const bool val = summary.shards == 0 && options.val_tokens > 0;
    const std::string file =
        absl::StrFormat("%s_%s_%06d.bin", options.name, val ? "val" : "train", summary.shards);
    writer = std::make_unique<ShardWriter>((fs::path(out_dir) / file).string(), wide);
    shard_docs = 0;
    if (!writer->ok()) status = absl::InternalError(absl::StrCat("cannot write ", file));
  };
  const auto capacity = [&]() {
    return summary.shards == 0 && options.val_tokens > 0 ? options.val_tokens
                                                         : options.tokens_per_shard;
  };
  const auto close_current = [&]() {
    if (writer == nullptr || !status.ok()) return;
    status = writer->Finish();
    const std::string file = fs::path(writer->path()).filename().string();
    shards.push_back({{"file", file},
                      {"split", file.find("_val_") != std::string::npos ? "val" : "train"},
                      {"tokens", writer->count()},
                      {"documents_started", shard_docs}});
    if (options.progress) {
      std::fprintf(stderr, "export: %s (%lld tokens)\n", file.c_str(),
                   static_cast<long long>(writer->count()));
    }
    ++summary.shards;
    writer.reset();
  };
  const auto write = [&](const std::vector<uint32_t>& ids) {
    size_t at = 0;
    bool starts = true;  // the document begins in the shard open now
    while (at < ids.size() && status.ok()) {
      if (writer == nullptr) open_next();
      if (!status.ok()) return;
      if (starts) ++shard_docs;
      starts = false;
      const size_t room = static_cast<size_t>(capacity() - writer->count());
      const size_t n = std::min(room, ids.size() - at);
      writer->Append(ids.data() + at, n);
      at += n;
      if (writer->count() == capacity()) close_current();
    }
  };

  // Documents in key order: read serially, encode in parallel, write in order.
  std::mutex scan_mutex;
  std::vector<std::shared_ptr<Doc>> batch;
  const auto flush_batch = [&]() {
    if (batch.empty()) return;
    size_t next = 0;
    tbb::parallel_pipeline(
        static_cast<size_t>(threads) * 4,
        tbb::make_filter<void, std::shared_ptr<Doc>>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> std::shared_ptr<Doc> {
              if (next == batch.size()) {
                fc.stop();
                return nullptr;
              }
              return batch[next++];
            }) &
            tbb::make_filter<std::shared_ptr<Doc>, std::shared_ptr<Doc>>(
                tbb::filter_mode::parallel,
                [&](std::shared_ptr<Doc> doc) {
                  doc->ids.push_back(*eot);
                  std::vector<TokenId> ids = tokenizer.EncodeOrdinary(doc->text);
                  doc->ids.insert(doc->ids.end(), ids.begin(), ids.end());
                  doc->text.clear();
                  return doc;
                }) &
            tbb::make_filter<std::shared_ptr<Doc>, void>(
                tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Doc> doc) {
                  summary.tokens += static_cast<int64_t>(doc->ids.size());
                  write(doc->ids);
                }));
    batch.clear();
  };
  size_t batch_bytes = 0;
  absl::Status scan = store.ForEachDocument([&](const pipeline::Document& doc) {
    ++summary.documents;
    summary.bytes_of_text += static_cast<int64_t>(doc.text.size());
    if (!doc.key.snapshot.empty()) snapshots.insert(doc.key.snapshot);
    auto d = std::make_shared<Doc>();
    d->text = doc.text;
    batch_bytes += doc.text.size();
    batch.push_back(std::move(d));
    if (batch_bytes >= (64u << 20) || batch.size() >= 100000) {
      flush_batch();
      batch_bytes = 0;
    }
    return status.ok();
  });
  flush_batch();
  if (!scan.ok()) return scan;
  if (writer != nullptr) close_current();
  if (!status.ok()) return status;

  const nlohmann::json manifest = {
      {"format", "llm.c token shards"},
      {"dtype", wide ? "uint32" : "uint16"},
      {"magic", wide ? kMagic32 : kMagic16},
      {"version", wide ? kVersion32 : kVersion16},
      {"tokenizer", tokenizer.name()},
      {"pattern", std::string(PretokenPatternName(tokenizer.pattern()))},
      {"vocab_size", tokenizer.vocab_size()},
      {"eot", *eot},
      {"documents", summary.documents},
      {"tokens", summary.tokens},
      {"bytes_of_text", summary.bytes_of_text},
      {"tokens_per_shard", options.tokens_per_shard},
      {"val_tokens", options.val_tokens},
      {"shards", shards},
      {"source", {{"data_dir", store.data_dir()}, {"snapshots", snapshots}}}};
  std::ofstream out(fs::path(out_dir) / "manifest.json", std::ios::trunc);
  out << manifest.dump(2) << "\n";
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", out_dir, "/manifest.json"));
  return summary;
}

absl::Status WriteTokenShard(const std::string& path, std::span<const uint32_t> tokens) {
  bool wide = false;
  for (uint32_t id : tokens) wide = wide || id > 0xffff;
  ShardWriter writer(path, wide);
  if (!writer.ok()) return absl::InternalError(absl::StrCat("cannot write ", path));
  writer.Append(tokens.data(), tokens.size());
  return writer.Finish();
}

absl::StatusOr<std::vector<uint32_t>> ReadTokenShard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::array<int32_t, 256> header{};
  in.read(reinterpret_cast<char*>(header.data()), sizeof(header));
  if (!in) return absl::DataLossError(absl::StrCat(path, ": shorter than its header"));
  const bool wide = header[0] == kMagic32 && header[1] == kVersion32;
  if (!wide && !(header[0] == kMagic16 && header[1] == kVersion16)) {
    return absl::DataLossError(absl::StrCat(path, ": unknown magic ", header[0]));
  }
  std::vector<uint32_t> tokens(static_cast<size_t>(header[2]));
  if (wide) {
    in.read(reinterpret_cast<char*>(tokens.data()),
            static_cast<std::streamsize>(tokens.size() * 4));
  } else {
    std::vector<uint16_t> narrow(tokens.size());
    in.read(reinterpret_cast<char*>(narrow.data()),
            static_cast<std::streamsize>(narrow.size() * 2));
    std::copy(narrow.begin(), narrow.end(), tokens.begin());
  }
  if (!in) return absl::DataLossError(absl::StrCat(path, ": fewer tokens than its header says"));
  if (in.peek() != EOF) return absl::DataLossError(absl::StrCat(path, ": trailing bytes"));
  return tokens;
}

}  // namespace winnow::trainer
