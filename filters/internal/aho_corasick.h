// filters/internal/aho_corasick.h — multi-pattern substring search over bytes (Aho & Corasick,
// 1975). One pass over the text finds every occurrence of every pattern, so the cost of a search
// does not grow with the number of patterns. Used by the URL filter (banned subwords) and the
// custom keyword filter. Header-only: filters/ compiles only its top-level .cc files.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace winnow::filters::internal {

class AhoCorasick {
 public:
  // An automaton that matches nothing.
  AhoCorasick() { Build({}, false); }
  // Empty patterns are ignored. With `fold_ascii_case`, patterns and text are compared after ASCII
  // lower-casing (bytes >= 0x80 compare as they are).
  explicit AhoCorasick(const std::vector<std::string>& patterns, bool fold_ascii_case = false) {
    Build(patterns, fold_ascii_case);
  }

  // True when no (non-empty) pattern was given.
  bool empty() const { return pattern_count_ == 0; }
  size_t num_states() const { return fail_.size(); }

  // True when some pattern occurs in `text`.
  bool ContainsAny(std::string_view text) const {
    if (empty()) return false;
    int32_t state = 0;
    for (unsigned char c : text) {
      state = Next(state, fold_[c]);
      if (match_[state] >= 0 || output_[state] >= 0) return true;
    }
    return false;
  }

  // Calls on_match(pattern_index, begin, end) for every occurrence, overlapping ones included, in
  // order of `end` (byte offsets into `text`, end exclusive). When several patterns are equal,
  // the first one's index is reported. Stops early when on_match returns false.
  template <typename OnMatch>
  void ForEachMatch(std::string_view text, OnMatch&& on_match) const {
    if (empty()) return;
    int32_t state = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      state = Next(state, fold_[static_cast<unsigned char>(text[i])]);
      for (int32_t s = match_[state] >= 0 ? state : output_[state]; s >= 0; s = output_[s]) {
        const size_t end = i + 1;
        if (!on_match(static_cast<size_t>(match_[s]), end - depth_[s], end)) return;
      }
    }
  }

 private:
  // Child of `state` on byte `c`, or -1.
  int32_t Child(int32_t state, uint8_t c) const {
    if (state == 0) return root_[c] > 0 ? root_[c] : -1;
    const auto begin = edge_byte_.begin() + edge_begin_[state];
    const auto end = edge_byte_.begin() + edge_begin_[state + 1];
    const auto it = std::lower_bound(begin, end, c);
    if (it == end || *it != c) return -1;
    return edge_to_[it - edge_byte_.begin()];
  }

  // The goto/failure transition: the longest pattern prefix that is a suffix of the input so far.
  int32_t Next(int32_t state, uint8_t c) const {
    while (state != 0) {
      const int32_t child = Child(state, c);
      if (child >= 0) return child;
      state = fail_[state];
    }
    return root_[c];
  }

  void Build(const std::vector<std::string>& patterns, bool fold_ascii_case) {
    for (int c = 0; c < 256; ++c) {
      fold_[c] = static_cast<uint8_t>(fold_ascii_case && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    // 1. The trie, its edges keyed by (state << 8 | byte).
    std::unordered_map<uint64_t, int32_t> edges;
    size_t total_bytes = 0;
    for (const std::string& p : patterns) total_bytes += p.size();
    edges.reserve(total_bytes);
    std::vector<int32_t> match(1, -1);
    std::vector<uint32_t> depth(1, 0);
    pattern_count_ = 0;
    for (size_t p = 0; p < patterns.size(); ++p) {
      if (patterns[p].empty()) continue;
      ++pattern_count_;
      int32_t state = 0;
      for (unsigned char raw : patterns[p]) {
        const uint64_t key = (static_cast<uint64_t>(state) << 8) | fold_[raw];
        auto [it, inserted] = edges.try_emplace(key, static_cast<int32_t>(match.size()));
        if (inserted) {
          match.push_back(-1);
          depth.push_back(depth[state] + 1);
        }
        state = it->second;
      }
      if (match[state] < 0) match[state] = static_cast<int32_t>(p);
    }
    // 2. Compact the edges: per state, sorted by byte (CSR layout).
    std::vector<std::pair<uint64_t, int32_t>> sorted(edges.begin(), edges.end());
    edges.clear();
    std::sort(sorted.begin(), sorted.end());
    const size_t num_states = match.size();
    edge_begin_.assign(num_states + 1, 0);
    edge_byte_.resize(sorted.size());
    edge_to_.resize(sorted.size());
    for (size_t e = 0; e < sorted.size(); ++e) {
      ++edge_begin_[(sorted[e].first >> 8) + 1];
      edge_byte_[e] = static_cast<uint8_t>(sorted[e].first & 0xff);
      edge_to_[e] = sorted[e].second;
    }
    for (size_t s = 0; s < num_states; ++s) edge_begin_[s + 1] += edge_begin_[s];
    root_.fill(0);
    for (uint32_t e = edge_begin_[0]; e < edge_begin_[1]; ++e) root_[edge_byte_[e]] = edge_to_[e];
    // 3. Failure and output links, breadth first (a state's failure is always shallower).
    match_ = std::move(match);
    depth_ = std::move(depth);
    fail_.assign(num_states, 0);
    output_.assign(num_states, -1);
    std::vector<int32_t> queue;
    queue.reserve(num_states);
    queue.push_back(0);
    for (size_t head = 0; head < queue.size(); ++head) {
      const int32_t state = queue[head];
      for (uint32_t e = edge_begin_[state]; e < edge_begin_[state + 1]; ++e) {
        const int32_t child = edge_to_[e];
        const int32_t fail = state == 0 ? 0 : Next(fail_[state], edge_byte_[e]);
        fail_[child] = fail;
        output_[child] = match_[fail] >= 0 ? fail : output_[fail];
        queue.push_back(child);
      }
    }
  }

  std::array<uint8_t, 256> fold_{};
  std::array<int32_t, 256> root_{};   // the root's transitions, dense (0 = stay at the root)
  std::vector<uint32_t> edge_begin_;  // state s's edges are [edge_begin_[s], edge_begin_[s + 1])
  std::vector<uint8_t> edge_byte_;
  std::vector<int32_t> edge_to_;
  std::vector<int32_t> fail_;    // longest proper suffix of the state that is also a state
  std::vector<int32_t> output_;  // nearest state on the failure chain that ends a pattern, or -1
  std::vector<int32_t> match_;   // index of the pattern ending at the state, or -1
  std::vector<uint32_t> depth_;  // length of the state's string
  size_t pattern_count_ = 0;
};

}  // namespace winnow::filters::internal
