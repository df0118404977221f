#include "pipeline/stats.h"

#include <algorithm>

namespace winnow::pipeline {

void Summary::Observe(double value) {
  if (count == 0) {
    min = max = value;
  } else {
    min = std::min(min, value);
    max = std::max(max, value);
  }
  ++count;
  const double delta = value - mean;
  mean += delta / static_cast<double>(count);
  m2 += delta * (value - mean);
}

void Summary::Merge(const Summary& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  const double n1 = static_cast<double>(count), n2 = static_cast<double>(other.count);
  const double delta = other.mean - mean;
  const double n = n1 + n2;
  mean += delta * n2 / n;
  m2 += other.m2 + delta * delta * n1 * n2 / n;
  count += other.count;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

void Stats::Add(std::string_view name, int64_t n) {
  auto it = counters_.find(name);
  if (it == counters_.end()) {
    counters_.emplace(std::string(name), n);
  } else {
    it->second += n;
  }
}

void Stats::Observe(std::string_view name, double value) {
  auto it = summaries_.find(name);
  if (it == summaries_.end()) it = summaries_.emplace(std::string(name), Summary{}).first;
  it->second.Observe(value);
}

void Stats::Merge(const Stats& other) {
  for (const auto& [name, n] : other.counters_) Add(name, n);
  for (const auto& [name, s] : other.summaries_) summaries_[name].Merge(s);
}

int64_t Stats::Count(std::string_view name) const {
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second;
}

int64_t Stats::CountPrefix(std::string_view prefix) const {
  int64_t total = 0;
  for (auto it = counters_.lower_bound(prefix);
       it != counters_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    total += it->second;
  }
  return total;
}

nlohmann::json Stats::ToJson() const {
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, n] : counters_) counters[name] = n;
  nlohmann::json summaries = nlohmann::json::object();
  for (const auto& [name, s] : summaries_) {
    summaries[name] = {
        {"count", s.count}, {"mean", s.mean}, {"m2", s.m2}, {"min", s.min}, {"max", s.max}};
  }
  return {{"counters", counters}, {"summaries", summaries}};
}

Stats Stats::FromJson(const nlohmann::json& json) {
  Stats stats;
  if (auto it = json.find("counters"); it != json.end() && it->is_object()) {
    for (const auto& [name, n] : it->items()) stats.counters_[name] = n.get<int64_t>();
  }
  if (auto it = json.find("summaries"); it != json.end() && it->is_object()) {
    for (const auto& [name, s] : it->items()) {
      Summary& out = stats.summaries_[name];
      out.count = s.value("count", int64_t{0});
      out.mean = s.value("mean", 0.0);
      out.m2 = s.value("m2", 0.0);
      out.min = s.value("min", 0.0);
      out.max = s.value("max", 0.0);
    }
  }
  return stats;
}

}  // namespace winnow::pipeline
