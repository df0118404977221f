// pipeline/run/config.h — the run's YAML config: every stage's options, with defaults.
//
//   reader:  {max_record_bytes: …}            see warc/warc_reader.h RecordReaderOptions
//   extract: {max_html_bytes: …, …}           see html/extractor.h ExtractOptions
//   fetch:   {max_attempts: …, …}             see io/fetch.h FetchOptions
//   store:   {num_shards: …, …}               see store/shard_store.h StoreOptions
//   dedup:   {enabled: …, scope: …, …}        see DedupConfig below, dedup/deduplicator.h
//   filters: {…}                              handed to filters/ as it is
//
// Keys are the option structs' field names. An unknown section or key, or a value of the wrong
// type, is a config error that names the file, the key and the value.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "pipeline/dedup/deduplicator.h"
#include "pipeline/html/extractor.h"
#include "pipeline/io/fetch.h"
#include "pipeline/store/shard_store.h"
#include "pipeline/warc/warc_reader.h"
#include "yaml-cpp/yaml.h"

namespace winnow::pipeline {

// Deduplication at the end of `winnow run`, over the stored documents (after filters).
struct DedupConfig {
  bool enabled = true;             // false: keep every document that passed the filters
  std::string scope = "snapshot";  // "snapshot": each snapshot on its own (FineWeb); "all": across
  DedupOptions options;            // exact/near, MinHash parameters, index partitions and memory
};

struct RunConfig {
  RecordReaderOptions reader;
  ExtractOptions extract;
  FetchOptions fetch;
  StoreOptions store;
  DedupConfig dedup;
  YAML::Node filters;  // the "filters" section, for filters/ to interpret (null when absent)
};

// Parses YAML text; `origin` names the source in error messages (a path, or "<default>").
absl::StatusOr<RunConfig> ParseConfig(const std::string& yaml_text, const std::string& origin);
// Reads and parses a config file; an empty path gives the built-in defaults.
absl::StatusOr<RunConfig> LoadConfig(const std::string& path);
// The effective config as YAML, every field written out (saved as DATA_DIR/config.yaml).
// Without `with_dedup` the dedup section is left out: what decides whether a stored input is
// still current (dedup settings only change the marks, not the stored documents).
std::string ConfigToYaml(const RunConfig& config, bool with_dedup = true);

}  // namespace winnow::pipeline
