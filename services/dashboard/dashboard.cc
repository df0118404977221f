#include "services/dashboard/dashboard.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "filters/registry.h"
#include "pipeline/run/config.h"
#include "pipeline/run/dedup_stage.h"
#include "services/dashboard/assets.h"

namespace winnow::services {
namespace {

using nlohmann::json;
using pipeline::Stats;

HttpResponse Json(const json& value, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpResponse Error(int status, const std::string& message) {
  return Json({{"error", message}}, status);
}

// "a/b/c" counters under `prefix` ("extract/dropped/") → {"c": n, …}.
std::map<std::string, int64_t> Under(const Stats& stats, const std::string& prefix) {
  std::map<std::string, int64_t> out;
  for (auto it = stats.counters().lower_bound(prefix);
       it != stats.counters().end() && absl::StartsWith(it->first, prefix); ++it) {
    out[it->first.substr(prefix.size())] += it->second;
  }
  return out;
}

int64_t Sum(const std::map<std::string, int64_t>& m) {
  int64_t total = 0;
  for (const auto& [k, v] : m) total += v;
  return total;
}

json Reasons(const std::map<std::string, int64_t>& reasons) {
  std::vector<std::pair<std::string, int64_t>> sorted(reasons.begin(), reasons.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  json out = json::array();
  for (const auto& [reason, count] : sorted) out.push_back({{"reason", reason}, {"count", count}});
  return out;
}

std::string Host(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#:", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (absl::StartsWith(host, "www.")) host = host.substr(4);
  std::transform(host.begin(), host.end(), host.begin(), ::tolower);
  return host;
}

json TopN(const std::map<std::string, int64_t>& counts, size_t n) {
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (sorted.size() > n) sorted.resize(n);
  json out = json::array();
  for (const auto& [name, count] : sorted) out.push_back({{"name", name}, {"count", count}});
  return out;
}

// A histogram over fixed edges: counts[i] for [edges[i], edges[i+1]), the last bin open.
struct Histogram {
  std::vector<double> edges;
  std::vector<int64_t> counts;
  explicit Histogram(std::vector<double> e) : edges(std::move(e)), counts(edges.size(), 0) {}
  void Add(double v) {
    size_t i = std::upper_bound(edges.begin(), edges.end(), v) - edges.begin();
    counts[i == 0 ? 0 : i - 1] += 1;
  }
  json ToJson() const { return {{"edges", edges}, {"counts", counts}}; }
};

Histogram UnitHistogram() {
  std::vector<double> edges;
  for (int i = 0; i < 10; ++i) edges.push_back(i / 10.0);
  return Histogram(edges);
}

std::string PromEscape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class Dashboard {
 public:
  explicit Dashboard(DashboardOptions options) : options_(std::move(options)) {}

  HttpResponse Handle(const HttpRequest& request) {
    HttpResponse denied;
    if (!Authorized(request, &denied)) return denied;
    HttpResponse response = Route(request);
    if (!options_.token.empty() && request.query.contains("token")) {
      response.headers["Set-Cookie"] =
          "winnow_token=" + options_.token + "; Path=/; HttpOnly; SameSite=Strict";
    }
    return response;
  }

 private:
  bool Authorized(const HttpRequest& request, HttpResponse* denied) {
    if (options_.token.empty()) return true;
    const auto same = [this](std::string_view given) {
      if (given.size() != options_.token.size()) return false;
      unsigned char diff = 0;
      for (size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ options_.token[i];
      return diff == 0;
    };
    if (absl::StartsWith(request.authorization, "Bearer ") &&
        same(std::string_view(request.authorization).substr(7))) {
      return true;
    }
    if (auto it = request.query.find("token"); it != request.query.end() && same(it->second)) {
      return true;
    }
    std::string_view cookies = request.cookie;
    while (!cookies.empty()) {
      const size_t semi = cookies.find(';');
      std::string_view cookie = cookies.substr(0, semi);
      while (!cookie.empty() && cookie.front() == ' ') cookie.remove_prefix(1);
      if (cookie.substr(0, 13) == "winnow_token=" && same(cookie.substr(13))) return true;
      if (semi == std::string_view::npos) break;
      cookies.remove_prefix(semi + 1);
    }
    *denied = Error(401, "this dashboard needs its token: open it as /?token=TOKEN");
    denied->headers["WWW-Authenticate"] = "Bearer";
    return false;
  }

  HttpResponse Route(const HttpRequest& r) {
    const std::string& p = r.path;
    if (p == "/" || p == "/index.html") return Asset("/index.html");
    if (p == "/api/summary") return Guard([&] { return Summary(); });
    if (p == "/api/runs") return Guard([&] { return Runs(); });
    if (p == "/api/funnel") return Guard([&] { return Funnel(); });
    if (p == "/api/filters") return Guard([&] { return Filters(); });
    if (p == "/api/dropped") return Guard([&] { return Dropped(r); });
    if (p == "/api/distributions") return Guard([&] { return Distributions(); });
    if (p == "/api/jobs") return Json(options_.jobs ? options_.jobs() : json::array());
    if (p == "/api/training") return Training(r);
    if (p == "/metrics") return Guard([&] { return Metrics(); });
    if (p == "/healthz") return HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {}};
    HttpResponse asset = Asset(p);
    if (asset.status == 200) return asset;
    return Error(404, "no such page: " + p);
  }

  HttpResponse Training(const HttpRequest& r) {
    auto job = r.query.find("job");
    if (job == r.query.end() || job->second.empty()) return Error(400, "give ?job=ID");
    if (!options_.training_metrics) return Error(404, "no training jobs (an embedded run)");
    absl::StatusOr<json> metrics = options_.training_metrics(job->second);
    if (absl::IsNotFound(metrics.status()))
      return Error(404, std::string(metrics.status().message()));
    if (!metrics.ok()) return Error(503, std::string(metrics.status().message()));
    return Json({{"job_id", job->second}, {"metrics", *metrics}});
  }

  static HttpResponse Asset(const std::string& path) {
    std::string_view type;
    std::optional<std::string_view> body = FindAsset(path, &type);
    if (!body.has_value()) return Error(404, "no such page");
    return HttpResponse{200, std::string(type), std::string(*body), {}};
  }

  // Runs `fn`, turning a store error into a JSON error.
  template <typename Fn>
  HttpResponse Guard(Fn fn) {
    absl::StatusOr<HttpResponse> r = fn();
    if (!r.ok()) return Error(503, std::string(r.status().message()));
    return *r;
  }

  struct View {
    std::shared_ptr<pipeline::ShardStore> store;
    std::map<std::string, Stats> inputs;
    Stats total;
    std::map<std::string, pipeline::DedupReport> dedup;
  };

  absl::StatusOr<View> Load() {
    View view;
    if (!options_.store) return view;
    absl::StatusOr<std::shared_ptr<pipeline::ShardStore>> store = options_.store();
    if (!store.ok()) return store.status();
    view.store = *store;
    absl::StatusOr<std::map<std::string, Stats>> inputs = view.store->InputStats();
    if (!inputs.ok()) return inputs.status();
    view.inputs = std::move(*inputs);
    for (const auto& [name, stats] : view.inputs) view.total.Merge(stats);
    absl::StatusOr<std::map<std::string, pipeline::DedupReport>> dedup =
        pipeline::StoredDedupReports(*view.store);
    if (!dedup.ok()) return dedup.status();
    view.dedup = std::move(*dedup);
    return view;
  }

  std::vector<std::string> FilterOrder(const Stats& total) {
    std::vector<std::string> order;
    absl::StatusOr<pipeline::RunConfig> config =
        pipeline::LoadConfig(options_.data_dir.empty() ? "" : options_.data_dir + "/config.yaml");
    if (!options_.data_dir.empty() && config.ok() && config->filters && config->filters["order"]) {
      for (const YAML::Node& name : config->filters["order"])
        order.push_back(name.as<std::string>(""));
    } else {
      order = filters::DefaultFilterOrder();
    }
    // Filters that counted something but are not in the order (custom ones, an older config).
    std::set<std::string> known(order.begin(), order.end());
    for (const auto& [name, count] : total.counters()) {
      const std::string stage = name.substr(0, name.find('/'));
      if (stage == "read" || stage == "extract" || stage == "write" || known.contains(stage)) {
        continue;
      }
      if (absl::StrContains(name, "/kept") || absl::StrContains(name, "/dropped/")) {
        order.push_back(stage);
        known.insert(stage);
      }
    }
    // Only the filters that ran.
    std::vector<std::string> ran;
    for (const std::string& f : order) {
      if (total.Count(f + "/kept") > 0 || !Under(total, f + "/dropped/").empty()) ran.push_back(f);
    }
    return ran;
  }

  absl::StatusOr<HttpResponse> Summary() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    json dedup = json::object();
    for (const auto& [group, report] : view->dedup) dedup[group] = report.ToJson();
    return Json({{"title", options_.title},
                 {"mode", options_.cluster ? "cluster" : "embedded"},
                 {"inputs", view->inputs.size()},
                 {"total", view->total.ToJson()},
                 {"dedup", dedup},
                 {"filter_order", FilterOrder(view->total)}});
  }

  absl::StatusOr<HttpResponse> Runs() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    json inputs = json::array();
    for (const auto& [key, stats] : view->inputs) {
      const size_t tab = key.find('\t');
      inputs.push_back({{"snapshot", key.substr(0, tab)},
                        {"input", key.substr(tab + 1)},
                        {"records", stats.Count("read/records")},
                        {"documents", stats.Count("write/kept")},
                        {"bytes", stats.Count("read/bytes")}});
    }
    json runs = json::array();
    if (!options_.data_dir.empty()) {
      std::ifstream in(options_.data_dir + "/runs.jsonl");
      for (std::string line; std::getline(in, line);) {
        json run = json::parse(line, nullptr, false);
        if (run.is_object()) runs.push_back(std::move(run));
      }
    }
    return Json({{"inputs", inputs},
                 {"runs", runs},
                 {"jobs", options_.jobs ? options_.jobs() : json::array()}});
  }

  json FunnelOf(const View& view) {
    const Stats& t = view.total;
    json steps = json::array();
    int64_t count = t.Count("read/records");
    const auto step = [&](const std::string& name, const std::string& stage,
                          const std::map<std::string, int64_t>& dropped) {
      count -= Sum(dropped);
      steps.push_back({{"name", name},
                       {"stage", stage},
                       {"count", count},
                       {"dropped", Sum(dropped)},
                       {"reasons", Reasons(dropped)}});
    };
    steps.push_back({{"name", "records"},
                     {"stage", "read"},
                     {"count", count},
                     {"dropped", 0},
                     {"reasons", json::array()}});
    std::map<std::string, int64_t> not_responses = Under(t, "read/skipped/");
    for (const auto& [reason, n] : Under(t, "read/damaged/"))
      not_responses["damaged: " + reason] += n;
    step("responses", "read", not_responses);
    std::map<std::string, int64_t> extract = Under(t, "extract/dropped/");
    std::map<std::string, int64_t> not_html;
    for (const char* reason : {"http_status", "not_html"}) {
      if (extract.contains(reason)) {
        not_html[reason] = extract[reason];
        extract.erase(reason);
      }
    }
    step("HTML pages", "extract", not_html);
    const std::vector<std::string> order = FilterOrder(t);
    // URL-only filters run before extraction.
    std::vector<std::string> text_filters;
    for (const std::string& f : order) {
      if (f == "url") {
        step("after url", "url", Under(t, "url/dropped/"));
      } else {
        text_filters.push_back(f);
      }
    }
    step("extracted", "extract", extract);
    for (const std::string& f : text_filters) step("after " + f, f, Under(t, f + "/dropped/"));
    int64_t exact = 0, near = 0;
    for (const auto& [group, report] : view.dedup) {
      exact += static_cast<int64_t>(report.exact_duplicates);
      near += static_cast<int64_t>(report.near_duplicates);
    }
    const auto only_if = [](const char* reason, int64_t n) {
      return n > 0 ? std::map<std::string, int64_t>{{reason, n}} : std::map<std::string, int64_t>{};
    };
    step("after exact dedup", "dedup", only_if("exact_duplicate", exact));
    step("curated", "dedup", only_if("near_duplicate", near));
    const auto written = t.summaries().find("write/chars");
    const double chars_written =
        written == t.summaries().end() ? 0 : written->second.mean * written->second.count;
    return {{"steps", steps},
            {"written", t.Count("write/kept")},
            {"chars_written", static_cast<int64_t>(std::llround(chars_written))}};
  }

  absl::StatusOr<HttpResponse> Funnel() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    json funnel = FunnelOf(*view);
    absl::StatusOr<json> dist = DistributionsOf(*view);
    funnel["tokens_curated"] = nullptr;
    if (dist.ok()) {
      funnel["chars_curated"] = (*dist)["chars_curated"];
      funnel["chars_curated_exact"] = !(*dist)["truncated"].get<bool>();
      funnel["tokens_curated"] = (*dist)["tokens_curated"];
      funnel["tokenizer"] = (*dist)["tokenizer"];
    }
    return Json(funnel);
  }

  absl::StatusOr<HttpResponse> Filters() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    json out = json::array();
    for (const std::string& f : FilterOrder(view->total)) {
      const int64_t kept = view->total.Count(f + "/kept");
      const std::map<std::string, int64_t> dropped = Under(view->total, f + "/dropped/");
      const int64_t seen = kept + Sum(dropped);
      json reasons = Reasons(dropped);
      for (json& r : reasons) {
        r["share"] = seen > 0 ? r["count"].get<double>() / static_cast<double>(seen) : 0.0;
      }
      out.push_back({{"filter", f},
                     {"seen", seen},
                     {"kept", kept},
                     {"dropped", Sum(dropped)},
                     {"reasons", reasons}});
    }
    // Extraction drops browse the same way.
    const std::map<std::string, int64_t> extract = Under(view->total, "extract/dropped/");
    return Json({{"filters", out}, {"extract", Reasons(extract)}});
  }

  static json DocumentJson(const pipeline::Document& doc, std::string_view filter,
                           std::string_view reason) {
    constexpr size_t kMaxText = 20000;
    json scores = json::object();
    if (!filter.empty() && doc.metadata.contains(std::string(filter)) &&
        doc.metadata[std::string(filter)].is_object()) {
      scores = doc.metadata[std::string(filter)];
    }
    for (const char* key : {"language", "language_score"}) {
      if (doc.metadata.contains(key)) scores[key] = doc.metadata[key];
    }
    return {{"id", doc.id},
            {"url", doc.url},
            {"date", doc.date},
            {"snapshot", doc.key.snapshot},
            {"input", doc.key.input},
            {"offset", doc.key.offset},
            {"filter", filter},
            {"reason", reason},
            {"scores", scores},
            {"metadata", doc.metadata},
            {"chars", doc.text.size()},
            {"text", doc.text.substr(0, kMaxText)},
            {"text_truncated", doc.text.size() > kMaxText}};
  }

  absl::StatusOr<HttpResponse> Dropped(const HttpRequest& r) {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    const auto param = [&](const char* name) {
      auto it = r.query.find(name);
      return it == r.query.end() ? std::string() : it->second;
    };
    const std::string filter = param("filter"), reason = param("reason");
    int64_t page = 0, per_page = 10;
    try {
      if (!param("page").empty()) page = std::max<int64_t>(0, std::stoll(param("page")));
      if (!param("per_page").empty()) {
        per_page = std::clamp<int64_t>(std::stoll(param("per_page")), 1, 100);
      }
    } catch (const std::exception&) {
      return Error(400, "page and per_page are numbers");
    }
    json items = json::array();
    int64_t matched = 0;
    if (view->store != nullptr) {
      absl::Status status = view->store->ForEachDropped(
          [&](const pipeline::Document& doc, std::string_view f, std::string_view why) {
            if ((!filter.empty() && f != filter) || (!reason.empty() && why != reason)) {
              return true;
            }
            if (matched >= page * per_page && matched < (page + 1) * per_page) {
              items.push_back(DocumentJson(doc, f, why));
            }
            ++matched;
            return true;
          });
      if (!status.ok()) return status;
    }
    return Json({{"filter", filter},
                 {"reason", reason},
                 {"page", page},
                 {"per_page", per_page},
                 {"examples", matched},
                 {"items", items}});
  }

  // Computed from the kept documents (at most max_scan_documents) and the dropped examples;
  // cached until the stats change.
  absl::StatusOr<json> DistributionsOf(const View& view) {
    const std::string digest =
        view.total.ToJson().dump() + std::to_string(view.dedup.size()) + [&] {
          std::string d;
          for (const auto& [g, r] : view.dedup) d += r.ToJson().dump();
          return d;
        }();
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (digest == cache_digest_) return cache_;
    }
    Histogram length({0, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000});
    Histogram language_score = UnitHistogram();
    std::map<std::string, int64_t> languages, kept_domains, dropped_domains;
    std::map<std::string, std::map<std::string, std::vector<double>>> scores;  // filter → key
    int64_t scanned = 0, tokens = 0;
    double chars = 0;
    bool truncated = false;
    if (view.store != nullptr) {
      absl::Status status = view.store->ForEachDocument([&](const pipeline::Document& doc) {
        if (scanned >= options_.max_scan_documents) {
          truncated = true;
          return false;
        }
        ++scanned;
        chars += static_cast<double>(doc.text.size());
        if (options_.tokenizer != nullptr) {
          tokens += static_cast<int64_t>(options_.tokenizer->EncodeOrdinary(doc.text).size());
        }
        length.Add(static_cast<double>(doc.text.size()));
        if (doc.metadata.contains("language") && doc.metadata["language"].is_string()) {
          languages[doc.metadata["language"].get<std::string>()] += 1;
        }
        if (doc.metadata.contains("language_score") && doc.metadata["language_score"].is_number()) {
          language_score.Add(doc.metadata["language_score"].get<double>());
        }
        for (const auto& [key, value] : doc.metadata.items()) {
          if (!value.is_object()) continue;
          for (const auto& [name, v] : value.items()) {
            if (v.is_number()) scores[key][name].push_back(v.get<double>());
          }
        }
        kept_domains[Host(doc.url)] += 1;
        return true;
      });
      if (!status.ok()) return status;
      status = view.store->ForEachDropped(
          [&](const pipeline::Document& doc, std::string_view, std::string_view) {
            dropped_domains[Host(doc.url)] += 1;
            return true;
          });
      if (!status.ok()) return status;
    }
    json score_json = json::object();
    for (const auto& [filter, keys] : scores) {
      for (const auto& [name, values] : keys) {
        const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
        double mean = 0;
        for (double v : values) mean += v;
        mean /= static_cast<double>(values.size());
        json entry = {{"count", values.size()}, {"min", *lo}, {"max", *hi}, {"mean", mean}};
        if (*lo >= 0 && *hi <= 1) {  // a ratio: a histogram over [0, 1]
          Histogram h = UnitHistogram();
          for (double v : values) h.Add(v);
          entry["histogram"] = h.ToJson();
        }
        score_json[filter][name] = entry;
      }
    }
    std::map<uint64_t, uint64_t> sizes;
    for (const auto& [group, report] : view.dedup) {
      for (const auto& [size, count] : report.cluster_sizes) sizes[size] += count;
    }
    json cluster_sizes = json::array();
    for (const auto& [size, count] : sizes) {
      cluster_sizes.push_back({{"size", size}, {"clusters", count}});
    }
    std::map<std::string, int64_t> language_counts(languages.begin(), languages.end());
    json out = {{"documents_scanned", scanned},
                {"truncated", truncated},
                {"chars_curated", static_cast<int64_t>(chars)},
                {"tokens_curated", options_.tokenizer != nullptr ? json(tokens) : json(nullptr)},
                {"tokenizer", options_.tokenizer != nullptr ? options_.tokenizer->name() : ""},
                {"length", length.ToJson()},
                {"languages", TopN(language_counts, 30)},
                {"language_score", language_score.ToJson()},
                {"scores", score_json},
                {"top_domains_kept", TopN(kept_domains, 20)},
                {"top_domains_dropped", TopN(dropped_domains, 20)},
                {"dropped_domains_from", "stored dropped examples"},
                {"cluster_sizes", cluster_sizes}};
    std::lock_guard<std::mutex> lock(cache_mutex_);
    cache_digest_ = digest;
    cache_ = out;
    return out;
  }

  absl::StatusOr<HttpResponse> Distributions() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    absl::StatusOr<json> dist = DistributionsOf(*view);
    if (!dist.ok()) return dist.status();
    return Json(*dist);
  }

  absl::StatusOr<HttpResponse> Metrics() {
    absl::StatusOr<View> view = Load();
    if (!view.ok()) return view.status();
    const Stats& t = view->total;
    std::string out;
    const auto family = [&](const char* name, const char* type, const char* help) {
      absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
    };
    family("winnow_inputs", "gauge", "Input files committed to the store.");
    absl::StrAppend(&out, "winnow_inputs ", view->inputs.size(), "\n");
    family("winnow_records_total", "counter", "WARC/ARC records read.");
    absl::StrAppend(&out, "winnow_records_total ", t.Count("read/records"), "\n");
    family("winnow_input_bytes_total", "counter", "Input bytes read (compressed as stored).");
    absl::StrAppend(&out, "winnow_input_bytes_total ", t.Count("read/bytes"), "\n");
    family("winnow_records_skipped_total", "counter", "Records skipped, by WARC type.");
    for (const auto& [type, n] : Under(t, "read/skipped/")) {
      absl::StrAppend(&out, "winnow_records_skipped_total{type=\"", PromEscape(type), "\"} ", n,
                      "\n");
    }
    family("winnow_records_damaged_total", "counter", "Damaged records, by reason.");
    for (const auto& [reason, n] : Under(t, "read/damaged/")) {
      absl::StrAppend(&out, "winnow_records_damaged_total{reason=\"", PromEscape(reason), "\"} ", n,
                      "\n");
    }
    family("winnow_extract_dropped_total", "counter", "Pages dropped by extraction, by reason.");
    for (const auto& [reason, n] : Under(t, "extract/dropped/")) {
      absl::StrAppend(&out, "winnow_extract_dropped_total{reason=\"", PromEscape(reason), "\"} ", n,
                      "\n");
    }
    family("winnow_filter_kept_total", "counter", "Documents a filter kept.");
    family("winnow_filter_dropped_total", "counter", "Documents a filter dropped, by reason.");
    for (const std::string& f : FilterOrder(t)) {
      absl::StrAppend(&out, "winnow_filter_kept_total{filter=\"", PromEscape(f), "\"} ",
                      t.Count(f + "/kept"), "\n");
      for (const auto& [reason, n] : Under(t, f + "/dropped/")) {
        absl::StrAppend(&out, "winnow_filter_dropped_total{filter=\"", PromEscape(f),
                        "\",reason=\"", PromEscape(reason), "\"} ", n, "\n");
      }
    }
    family("winnow_documents_written_total", "counter", "Documents that passed every filter.");
    absl::StrAppend(&out, "winnow_documents_written_total ", t.Count("write/kept"), "\n");
    family("winnow_duplicates_total", "counter", "Documents removed as duplicates.");
    for (const auto& [group, r] : view->dedup) {
      for (const auto& [kind, n] :
           {std::pair{"exact", r.exact_duplicates}, std::pair{"near", r.near_duplicates}}) {
        absl::StrAppend(&out, "winnow_duplicates_total{group=\"", PromEscape(group), "\",kind=\"",
                        kind, "\"} ", n, "\n");
      }
    }
    if (options_.jobs) {
      const json jobs = options_.jobs();
      std::map<std::string, int64_t> states;
      // Training jobs: the newest step and losses each reported.
      std::vector<std::pair<std::string, json>> training;
      for (const json& job : jobs) {
        states[job.value("state", "unknown")] += 1;
        if (job.value("kind", "") == "train" && job.contains("training")) {
          training.emplace_back(job.value("job_id", ""), job["training"]);
        }
      }
      family("winnow_jobs", "gauge", "Cluster jobs, by state.");
      for (const auto& [state, n] : states) {
        absl::StrAppend(&out, "winnow_jobs{state=\"", PromEscape(state), "\"} ", n, "\n");
      }
      const std::pair<const char*, const char*> gauges[] = {
          {"step", "The newest step a training job reported."},
          {"loss", "Its training loss (nats per token)."},
          {"val_loss", "Its newest validation loss (nats per token)."},
          {"tokens_per_s", "Its training throughput (tokens per second)."}};
      for (const auto& [field, help] : gauges) {
        family(absl::StrCat("winnow_training_", field).c_str(), "gauge", help);
        for (const auto& [id, t] : training) {
          if (!t.contains(field) || !t[field].is_number()) continue;
          absl::StrAppend(&out, "winnow_training_", field, "{job=\"", PromEscape(id), "\"} ",
                          t[field].get<double>(), "\n");
        }
      }
    }
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", out, {}};
  }

  DashboardOptions options_;
  std::mutex cache_mutex_;
  std::string cache_digest_;
  json cache_;
};

}  // namespace

HttpHandler MakeDashboard(DashboardOptions options) {
  auto dashboard = std::make_shared<Dashboard>(std::move(options));
  return [dashboard](const HttpRequest& request) { return dashboard->Handle(request); };
}

std::function<absl::StatusOr<std::shared_ptr<pipeline::ShardStore>>()> ReadOnlyStore(
    const std::string& data_dir, double refresh_seconds) {
  struct State {
    std::mutex mutex;
    std::shared_ptr<pipeline::ShardStore> store;
    std::chrono::steady_clock::time_point opened;
  };
  auto state = std::make_shared<State>();
  return [state, data_dir,
          refresh_seconds]() -> absl::StatusOr<std::shared_ptr<pipeline::ShardStore>> {
    std::lock_guard<std::mutex> lock(state->mutex);
    const auto now = std::chrono::steady_clock::now();
    if (state->store != nullptr &&
        std::chrono::duration<double>(now - state->opened).count() < refresh_seconds) {
      return state->store;
    }
    pipeline::StoreOptions options;
    options.read_only = true;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
        pipeline::ShardStore::Open(data_dir, options);
    if (!store.ok()) return store.status();
    state->store = std::move(*store);
    state->opened = now;
    return state->store;
  };
}

}  // namespace winnow::services
