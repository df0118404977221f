#include "pipeline/run/report.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_format.h"

namespace winnow::pipeline {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "<filter>/dropped/<reason>" for a filter (not a reader or extraction stage).
bool IsFilterDrop(std::string_view name) {
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view stage = name.substr(0, slash);
  return stage != "read" && stage != "extract" && stage != "write" &&
         StartsWith(name.substr(slash), "/dropped/");
}

std::string ShortName(const std::string& input) {
  std::string name = std::filesystem::path(input).filename().string();
  if (name.empty()) name = input;
  if (name.size() > 48) name = name.substr(0, 22) + "…" + name.substr(name.size() - 23);
  return name;
}

std::string Row(const std::string& name, const Outcomes& o) {
  return absl::StrFormat("%-48s %9d %9d %8d %9d %9d %9d %9.1f\n", name, o.records, o.skipped,
                         o.damaged, o.dropped, o.filtered, o.kept,
                         static_cast<double>(o.bytes) / 1e6);
}

}  // namespace

Outcomes OutcomesOf(const Stats& stats) {
  Outcomes o;
  o.records = stats.Count("read/records");
  o.skipped = stats.CountPrefix("read/skipped/");
  o.damaged = stats.CountPrefix("read/damaged/");
  o.dropped = stats.CountPrefix("extract/dropped/");
  for (const auto& [name, n] : stats.counters()) {
    if (IsFilterDrop(name)) o.filtered += n;
  }
  o.kept = stats.Count("write/kept");
  o.bytes = stats.Count("read/bytes");
  return o;
}

std::string FormatSummary(const std::vector<std::pair<std::string, Stats>>& per_input,
                          const Stats& total, const std::vector<std::string>& filter_order) {
  std::string out = absl::StrFormat("%-48s %9s %9s %8s %9s %9s %9s %9s\n", "input", "records",
                                    "skipped", "damaged", "dropped", "filtered", "kept", "MB");
  for (const auto& [input, stats] : per_input) out += Row(ShortName(input), OutcomesOf(stats));
  out += Row("total", OutcomesOf(total));

  // Filters: the given order first, then any other stage that counted kept/dropped documents.
  std::vector<std::string> filters = filter_order;
  for (const auto& [name, n] : total.counters()) {
    const size_t slash = name.find('/');
    const std::string stage = name.substr(0, slash);
    if ((name.substr(slash == std::string::npos ? name.size() : slash) == "/kept" ||
         IsFilterDrop(name)) &&
        stage != "extract" && stage != "write" &&
        std::find(filters.begin(), filters.end(), stage) == filters.end()) {
      filters.push_back(stage);
    }
  }
  if (!filters.empty()) {
    out += absl::StrFormat("\n%-30s %10s %10s %10s %7s\n", "filter", "seen", "kept", "dropped",
                           "drop%");
  }
  for (const std::string& filter : filters) {
    const int64_t kept = total.Count(filter + "/kept");
    const int64_t dropped = total.CountPrefix(filter + "/dropped/");
    const int64_t seen = kept + dropped;
    out += absl::StrFormat("%-30s %10d %10d %10d %6.1f%%\n", filter, seen, kept, dropped,
                           seen > 0 ? 100.0 * static_cast<double>(dropped) / seen : 0.0);
    const std::string prefix = filter + "/dropped/";
    for (auto it = total.counters().lower_bound(prefix);
         it != total.counters().end() && StartsWith(it->first, prefix); ++it) {
      out += absl::StrFormat("  %-28s %10s %10s %10d\n", it->first.substr(prefix.size()), "", "",
                             it->second);
    }
  }

  const int64_t records = total.Count("read/records");
  out += "\nwhat happened to every record:\n";
  for (const auto& [name, n] : total.counters()) {
    if (name == "read/bytes" || name == "read/records" || name == "extract/kept") continue;
    if (StartsWith(name, "read/") || StartsWith(name, "extract/dropped/") || name == "write/kept") {
      out += absl::StrFormat("  %-44s %9d  %5.1f%%\n", name, n,
                             records > 0 ? 100.0 * static_cast<double>(n) / records : 0.0);
    }
  }
  return out;
}

}  // namespace winnow::pipeline
