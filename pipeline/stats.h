// pipeline/stats.h — mergeable counters and running summaries for every pipeline stage.
//
// Counter names are "<stage>/<outcome>[/<reason>]", for example
//   read/records                 every WARC/ARC record seen
//   read/skipped/request         a record type the pipeline does not use, counted and skipped
//   read/damaged/truncated_gzip  a damaged record (or the rest of a damaged file), counted and
//   skipped extract/dropped/not_html     a response whose payload is not a web page
//   url/dropped/domain           a filter's drop, under the filter's name and the reference's
//   reason write/kept                   documents stored
// Summaries keep count, mean and M2 (Welford), min and max, so two partial Stats merge into the
// Stats of the whole run exactly (up to float rounding) whatever the split.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace winnow::pipeline {

struct Summary {
  int64_t count = 0;
  double mean = 0;
  double m2 = 0;  // sum of squared deviations from the mean
  double min = 0;
  double max = 0;

  void Observe(double value);
  void Merge(const Summary& other);
  double variance() const { return count > 1 ? m2 / static_cast<double>(count - 1) : 0; }
};

class Stats {
 public:
  void Add(std::string_view name, int64_t n = 1);
  void Observe(std::string_view name, double value);
  void Merge(const Stats& other);

  int64_t Count(std::string_view name) const;  // 0 when never added
  // Sum of every counter whose name starts with `prefix` (e.g. "read/damaged/").
  int64_t CountPrefix(std::string_view prefix) const;
  const std::map<std::string, int64_t, std::less<>>& counters() const { return counters_; }
  const std::map<std::string, Summary, std::less<>>& summaries() const { return summaries_; }
  bool empty() const { return counters_.empty() && summaries_.empty(); }

  nlohmann::json ToJson() const;
  static Stats FromJson(const nlohmann::json& json);  // the inverse of ToJson; ignores unknown keys

 private:
  std::map<std::string, int64_t, std::less<>> counters_;
  std::map<std::string, Summary, std::less<>> summaries_;
};

}  // namespace winnow::pipeline
