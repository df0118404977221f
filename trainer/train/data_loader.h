// trainer/train/data_loader.h — deterministic training batches from a token stream.
//
// The stream comes in parts: one per train shard (read from disk when first needed, one at a
// time), or a single in-memory part (a curated data dir's train split). Part p of n tokens holds
// (n − 1) / T windows: window w is tokens [w·T, w·T + T] (T + 1 tokens: T inputs, and the same
// shifted by one as targets), so consecutive windows share one boundary token and every token but
// the part's last is a target once per epoch.
//
// Order: an epoch visits every part and every window of each part once. With shuffle, the parts
// come in a seeded permutation per epoch and the windows of each part in a seeded permutation per
// (epoch, part); without, both in order (llm.c's sequential loader). A batch is the next B windows
// in that order, crossing part and epoch boundaries as needed. Permutations come from SplitMix64
// and Fisher–Yates (not the standard library's distributions), so the same seed gives the same
// batches on every platform. The position (epoch, part, window) is all the state: save it with
// a checkpoint and Restore it to continue bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace winnow::trainer {

// One part of the stream: tokens in memory, or a token shard file read when needed.
struct TokenPart {
  std::shared_ptr<const std::vector<uint32_t>> tokens;  // set: in memory
  std::string path;                                     // else: ReadTokenShard(path)
};

struct DataLoaderState {
  int64_t epoch = 0;   // epochs completed
  int64_t part = 0;    // position in this epoch's part order
  int64_t window = 0;  // position in the current part's window order
  bool operator==(const DataLoaderState&) const = default;
};

class DataLoader {
 public:
  // InvalidArgument when B or T < 1 or the parts hold no window of T + 1 tokens; a shard's
  // header is read here to count its tokens.
  static absl::StatusOr<std::unique_ptr<DataLoader>> Create(std::vector<TokenPart> parts, int B,
                                                            int T, uint64_t seed, bool shuffle);

  // The next batch: inputs and targets, B·T ids each, row-major (B, T).
  absl::Status Next(std::vector<int>* inputs, std::vector<int>* targets);

  const DataLoaderState& state() const { return state_; }
  // Continues from a saved position (OutOfRange when it does not fit this stream).
  absl::Status Restore(const DataLoaderState& state);

  int64_t windows_per_epoch() const { return total_windows_; }

 private:
  DataLoader() = default;
  absl::Status Load(int64_t part_index);  // the part at state_.part of this epoch's order
  std::vector<int64_t> PartOrder(int64_t epoch) const;

  std::vector<TokenPart> parts_;
  std::vector<int64_t> part_tokens_;  // token count of each part
  int64_t total_windows_ = 0;
  int B_ = 0, T_ = 0;
  uint64_t seed_ = 0;
  bool shuffle_ = true;
  DataLoaderState state_;
  // The loaded part and its window order.
  int64_t loaded_epoch_ = -1, loaded_part_ = -1;
  std::shared_ptr<const std::vector<uint32_t>> tokens_;
  std::vector<int64_t> windows_;
};

// A seeded permutation of 0 … n−1 (SplitMix64-driven Fisher–Yates; identical everywhere).
std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed);

}  // namespace winnow::trainer
