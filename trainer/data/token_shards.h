// trainer/data/token_shards.h — curated documents → llm.c-style token shards.
//
// A shard is 256 int32 header words (1024 bytes: [0] magic, [1] version, [2] token count) then
// the tokens: uint16 (magic 20240520, version 1) when every id fits, else uint32 (magic 20240801,
// version 7). Files are NAME_val_000000.bin (shard 0: validation), NAME_train_000001.bin, …; every
// document is preceded by the end-of-text token; shards are filled exactly, so a document may
// continue in the next shard (as llm.c's own preparation scripts do). Documents come in DocumentKey
// order (duplicates left out), so the same store and tokenizer always give the same bytes.
// OUT_DIR/manifest.json records the tokenizer, the counts and the source.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/store/shard_store.h"
#include "trainer/tokenizer/tokenizer.h"

namespace winnow::trainer {

struct TokenShardOptions {
  std::string name = "winnow";           // file name prefix
  int64_t tokens_per_shard = 100000000;  // train shards (llm.c's size)
  int64_t val_tokens = 1000000;          // shard 0; 0: no validation shard
  int threads = 0;                       // encoding threads; 0: all cores
  bool progress = false;                 // a line per shard on stderr
};

struct TokenShardSummary {
  int64_t documents = 0;
  int64_t tokens = 0;  // end-of-text tokens included
  int64_t shards = 0;
  int64_t bytes_of_text = 0;
};

// Writes the shards into OUT_DIR (created if needed; earlier NAME_*.bin files there are replaced).
// FailedPrecondition when the tokenizer has no <|endoftext|>.
absl::StatusOr<TokenShardSummary> ExportTokenShards(pipeline::ShardStore& store,
                                                    const Tokenizer& tokenizer,
                                                    const std::string& out_dir,
                                                    const TokenShardOptions& options);

// Writes `tokens` as one shard file at `path` (uint16 when every id fits, else uint32; written
// under a temporary name and renamed when complete).
absl::Status WriteTokenShard(const std::string& path, std::span<const uint32_t> tokens);

// Reads one shard back (header checked): the tokens.
absl::StatusOr<std::vector<uint32_t>> ReadTokenShard(const std::string& path);

}  // namespace winnow::trainer
