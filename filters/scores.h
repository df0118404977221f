// filters/scores.h — records the numbers a filter computed in the document's metadata, under the
// filter's name, whether the filter keeps or drops the document (the dashboard shows them: "the
// scores that decided it", and score distributions over kept documents).
//
//   Verdict MyFilter::Check(Document* doc) const {
//     Scores scores(doc, name());
//     const double ratio = …;
//     scores.Set("some_ratio", ratio);         // as soon as it is computed…
//     if (ratio > max) return Verdict::Drop("some_ratio");  // …so a drop carries it
//     …
//   }  // ~Scores: doc->metadata["my_filter"] = {"some_ratio": 0.12, …}
//
// Values are collected in place (no allocation for up to kInline values) and become one JSON
// object when the Scores goes out of scope, i.e. after the return value was built. Keys are kept
// as views: they must outlive the Scores (string literals, or strings the filter owns). Setting a
// key twice keeps the last value. When nothing was set, the filter's entry is removed (so a
// document filtered again carries no stale figures) and nothing is written.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "pipeline/document.h"

namespace winnow::filters {

class Scores {
 public:
  // `filter_name` must outlive the Scores (a filter's name() does).
  Scores(pipeline::Document* doc, std::string_view filter_name) : doc_(doc), name_(filter_name) {}
  ~Scores() {
    try {
      Write();
    } catch (...) {  // out of memory: the document simply carries no scores
    }
  }

  Scores(const Scores&) = delete;
  Scores& operator=(const Scores&) = delete;

  void Set(std::string_view key, double value) { Add(key)->SetDouble(value); }
  template <std::integral T>
  void Set(std::string_view key, T value) {
    Add(key)->SetInt(static_cast<int64_t>(value));
  }

 private:
  static constexpr size_t kInline = 16;

  struct Entry {
    std::string_view key;
    bool is_int;
    union {
      double d;
      int64_t i;
    };
    void SetDouble(double v) {
      is_int = false;
      d = v;
    }
    void SetInt(int64_t v) {
      is_int = true;
      i = v;
    }
  };

  // a < b, deciding on the first byte without calling memcmp when it can.
  static bool Less(std::string_view a, std::string_view b) {
    if (!a.empty() && !b.empty() && a[0] != b[0]) {
      return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
    }
    return a < b;
  }

  Entry* Add(std::string_view key) {
    Entry* e;
    if (size_ < kInline) {
      e = &inline_[size_];
    } else {
      e = &overflow_.emplace_back();
    }
    ++size_;
    e->key = key;
    return e;
  }
  Entry& At(size_t k) { return k < kInline ? inline_[k] : overflow_[k - kInline]; }

  void Write() {
    nlohmann::json& metadata = doc_->metadata;
    if (size_ == 0) {
      if (metadata.is_object()) {
        const auto it = metadata.find(name_);
        if (it != metadata.end()) metadata.erase(it);
      }
      return;
    }
    if (!metadata.is_object() && !metadata.is_null()) return;
    // The entries in key order (insertion sort: few, and set in the same order every time), so
    // each lands at the end of the map without a search; of equal keys the last set wins.
    const Entry* order_inline[kInline];
    std::vector<const Entry*> order_overflow;
    const Entry** order = order_inline;
    if (size_ > kInline) {
      order_overflow.resize(size_);
      order = order_overflow.data();
    }
    for (size_t k = 0; k < size_; ++k) {
      const Entry* e = &At(k);
      size_t at = k;
      while (at > 0 && Less(e->key, order[at - 1]->key)) {
        order[at] = order[at - 1];
        --at;
      }
      order[at] = e;
    }
    nlohmann::json& slot = metadata[name_];
    slot = nlohmann::json::object();
    auto& map = slot.get_ref<nlohmann::json::object_t&>();
    for (size_t k = 0; k < size_; ++k) {
      const Entry& e = *order[k];
      if (k + 1 < size_ && order[k + 1]->key == e.key) continue;  // set again later
      if (e.is_int) {
        map.emplace_hint(map.end(), std::piecewise_construct,
                         std::forward_as_tuple(e.key.data(), e.key.size()),
                         std::forward_as_tuple(e.i));
      } else {
        map.emplace_hint(map.end(), std::piecewise_construct,
                         std::forward_as_tuple(e.key.data(), e.key.size()),
                         std::forward_as_tuple(e.d));
      }
    }
  }

  pipeline::Document* doc_;
  std::string_view name_;
  size_t size_ = 0;
  Entry inline_[kInline];
  std::vector<Entry> overflow_;
};

}  // namespace winnow::filters
