#include "trainer/train/data_loader.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/data/token_shards.h"

namespace winnow::trainer {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
  return SplitMix64(s);
}

// The token count in a shard's header (magic and version checked).
absl::StatusOr<int64_t> ShardTokenCount(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open token shard ", path));
  int32_t header[3] = {0, 0, 0};
  const size_t got = std::fread(header, sizeof(int32_t), 3, f);
  std::fclose(f);
  const bool known =
      (header[0] == 20240520 && header[1] == 1) || (header[0] == 20240801 && header[1] == 7);
  if (got != 3 || !known || header[2] < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a token shard (bad header)"));
  }
  return header[2];
}

}  // namespace

std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) order[i] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; i--) {
    const int64_t j = static_cast<int64_t>(SplitMix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

absl::StatusOr<std::unique_ptr<DataLoader>> DataLoader::Create(std::vector<TokenPart> parts, int B,
                                                               int T, uint64_t seed, bool shuffle) {
  if (B < 1 || T < 1) {
    return absl::InvalidArgumentError(absl::StrCat("data loader: bad shape B=", B, " T=", T));
  }
  std::unique_ptr<DataLoader> loader(new DataLoader());
  loader->B_ = B;
  loader->T_ = T;
  loader->seed_ = seed;
  loader->shuffle_ = shuffle;
  for (const TokenPart& part : parts) {
    int64_t n = 0;
    if (part.tokens != nullptr) {
      n = static_cast<int64_t>(part.tokens->size());
    } else {
      absl::StatusOr<int64_t> count = ShardTokenCount(part.path);
      if (!count.ok()) return count.status();
      n = *count;
    }
    loader->part_tokens_.push_back(n);
    if (n > 0) loader->total_windows_ += (n - 1) / T;
  }
  loader->parts_ = std::move(parts);
  if (loader->total_windows_ == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the training data holds no sequence of seq_len + 1 = ", T + 1, " tokens"));
  }
  return loader;
}

std::vector<int64_t> DataLoader::PartOrder(int64_t epoch) const {
  const int64_t n = static_cast<int64_t>(parts_.size());
  if (!shuffle_) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    return order;
  }
  return SeededPermutation(n, Mix(seed_, static_cast<uint64_t>(epoch)));
}

absl::Status DataLoader::Load(int64_t part_index) {
  if (loaded_epoch_ == state_.epoch && loaded_part_ == part_index) return absl::OkStatus();
  const TokenPart& part = parts_[part_index];
  if (part.tokens != nullptr) {
    tokens_ = part.tokens;
  } else {
    absl::StatusOr<std::vector<uint32_t>> tokens = ReadTokenShard(part.path);
    if (!tokens.ok()) return tokens.status();
    if (static_cast<int64_t>(tokens->size()) != part_tokens_[part_index]) {
      return absl::DataLossError(absl::StrCat(part.path, ": changed while training"));
    }
    tokens_ = std::make_shared<const std::vector<uint32_t>>(std::move(*tokens));
  }
  const int64_t windows = (part_tokens_[part_index] - 1) / T_;
  if (shuffle_) {
    windows_ = SeededPermutation(
        windows, Mix(Mix(seed_, static_cast<uint64_t>(state_.epoch)), part_index + 1));
  } else {
    windows_.resize(static_cast<size_t>(windows));
    for (int64_t i = 0; i < windows; i++) windows_[i] = i;
  }
  loaded_epoch_ = state_.epoch;
  loaded_part_ = part_index;
  return absl::OkStatus();
}

absl::Status DataLoader::Next(std::vector<int>* inputs, std::vector<int>* targets) {
  inputs->resize(static_cast<size_t>(B_) * T_);
  targets->resize(static_cast<size_t>(B_) * T_);
  const int64_t num_parts = static_cast<int64_t>(parts_.size());
  std::vector<int64_t> order = PartOrder(state_.epoch);
  for (int b = 0; b < B_; b++) {
    // Move to the next position that has a window (total_windows_ > 0, so one exists).
    for (;;) {
      if (state_.part >= num_parts) {
        state_.epoch++;
        state_.part = 0;
        state_.window = 0;
        order = PartOrder(state_.epoch);
      }
      const int64_t n = part_tokens_[order[state_.part]];
      if (n > 0 && state_.window < (n - 1) / T_) break;
      state_.part++;
      state_.window = 0;
    }
    if (absl::Status s = Load(order[state_.part]); !s.ok()) return s;
    const size_t start = static_cast<size_t>(windows_[state_.window]) * T_;
    for (int t = 0; t < T_; t++) {
      (*inputs)[static_cast<size_t>(b) * T_ + t] = static_cast<int>((*tokens_)[start + t]);
      (*targets)[static_cast<size_t>(b) * T_ + t] = static_cast<int>((*tokens_)[start + t + 1]);
    }
    state_.window++;
  }
  return absl::OkStatus();
}

absl::Status DataLoader::Restore(const DataLoaderState& state) {
  const int64_t num_parts = static_cast<int64_t>(parts_.size());
  if (state.epoch < 0 || state.part < 0 || state.part > num_parts || state.window < 0 ||
      (state.part < num_parts && state.window > 0 &&
       state.window > (part_tokens_[PartOrder(state.epoch)[state.part]] - 1) / T_)) {
    return absl::OutOfRangeError(absl::StrCat("data loader position (epoch ", state.epoch,
                                              ", part ", state.part, ", window ", state.window,
                                              ") does not fit this data"));
  }
  state_ = state;
  loaded_epoch_ = loaded_part_ = -1;
  return absl::OkStatus();
}

}  // namespace winnow::trainer
