// pipeline/store/jsonl_export.h — the curated documents as datatrove-schema JSONL files.
//
// Writes OUT_DIR/00000.jsonl.gz, 00001.jsonl.gz, … (or .jsonl.zst), one line per document in
// DocumentKey order: {"text", "id", "metadata": {"url", "date", "dump", "file_path", "offset", …}}.
// Each file is written under a hidden temporary name (".00000.jsonl.gz.tmp"), fsync'ed and renamed
// when complete, so a crash never leaves a partial file under a final name. Readable by Python's
// gzip module, `zstd -dc` and Hugging Face `datasets` ("json" builder).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/store/shard_store.h"

namespace winnow::pipeline {

enum class ExportCompression {
  kGzip,  // .jsonl.gz (zlib deflate in a gzip wrapper)
  kZstd,  // .jsonl.zst (one zstd frame per file, with content checksum)
};

struct JsonlExportOptions {
  int64_t max_documents_per_file = 100000;                   // start a new file after this many
  ExportCompression compression = ExportCompression::kGzip;  // the files' format and extension
  int level = -1;                   // compression level; -1: the library's default (gzip 6, zstd 3)
  bool overwrite = true;            // false: fail if OUT_DIR already holds numbered export files
  bool include_duplicates = false;  // also documents dedup marked, with "duplicate_of" metadata
};

struct ExportSummary {
  int64_t files = 0;      // files written (none when the store holds no documents)
  int64_t documents = 0;  // lines written
  int64_t bytes = 0;      // compressed bytes written, all files together
};

// Creates OUT_DIR if needed. With `overwrite`, numbered export files of an earlier export that
// this one did not rewrite (either extension) are removed once the export succeeded.
absl::StatusOr<ExportSummary> ExportJsonl(ShardStore& store, const std::string& out_dir,
                                          const JsonlExportOptions& options = {});

}  // namespace winnow::pipeline
