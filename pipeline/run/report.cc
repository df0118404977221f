#include "pipeline/run/report.h"

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
                          const Stats& total) {
  std::string out = absl::StrFormat("%-48s %9s %9s %8s %9s %9s %9s %9s\n", "input", "records",
                                    "skipped", "damaged", "dropped", "filtered", "kept", "MB");
  for (const auto& [input, stats] : per_input) out += Row(ShortName(input), OutcomesOf(stats));
  out += Row("total", OutcomesOf(total));

  const int64_t records = total.Count("read/records");
  out += "\nwhat happened to every record:\n";
  for (const auto& [name, n] : total.counters()) {
    if (name == "read/bytes" || name == "read/records" || name == "extract/kept") continue;
    if (StartsWith(name, "read/") || StartsWith(name, "extract/dropped/") || IsFilterDrop(name) ||
        name == "write/kept") {
      out += absl::StrFormat("  %-44s %9d  %5.1f%%\n", name, n,
                             records > 0 ? 100.0 * static_cast<double>(n) / records : 0.0);
    }
  }
  return out;
}

}  // namespace winnow::pipeline
