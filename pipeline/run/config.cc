#include "pipeline/run/config.h"

#include <fstream>
#include <sstream>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace winnow::pipeline {
namespace {

using FieldPtr = std::variant<int*, long*, size_t*, double*, bool*, std::string*>;
struct Field {
  const char* name;
  FieldPtr ptr;
};
struct Section {
  const char* name;
  std::vector<Field> fields;
};

// The config's schema: every option a user may set, bound to the struct field it sets.
std::vector<Section> Schema(RunConfig& c) {
  return {
      {"reader", {{"max_record_bytes", &c.reader.max_record_bytes}}},
      {"extract",
       {{"max_html_bytes", &c.extract.max_html_bytes},
        {"max_nodes", &c.extract.max_nodes},
        {"max_seconds", &c.extract.max_seconds},
        {"include_tables", &c.extract.include_tables},
        {"include_lists", &c.extract.include_lists}}},
      {"fetch",
       {{"max_attempts", &c.fetch.max_attempts},
        {"initial_backoff_seconds", &c.fetch.initial_backoff_seconds},
        {"max_backoff_seconds", &c.fetch.max_backoff_seconds},
        {"connect_timeout_seconds", &c.fetch.connect_timeout_seconds},
        {"low_speed_limit_bytes", &c.fetch.low_speed_limit_bytes},
        {"low_speed_time_seconds", &c.fetch.low_speed_time_seconds},
        {"user_agent", &c.fetch.user_agent},
        {"buffer_bytes", &c.fetch.buffer_bytes}}},
      {"store",
       {{"num_shards", &c.store.num_shards},
        {"max_dropped_examples_per_reason", &c.store.max_dropped_examples_per_reason},
        {"compress", &c.store.compress},
        {"sync_commits", &c.store.sync_commits}}},
      {"dedup",
       {{"enabled", &c.dedup.enabled},
        {"scope", &c.dedup.scope},
        {"exact", &c.dedup.options.exact},
        {"near", &c.dedup.options.near},
        {"ngram", &c.dedup.options.minhash.ngram},
        {"bands", &c.dedup.options.minhash.bands},
        {"rows", &c.dedup.options.minhash.rows},
        {"hash", &c.dedup.options.minhash.hash},
        {"seed", &c.dedup.options.minhash.seed},
        {"num_partitions", &c.dedup.options.num_partitions},
        {"memory_mib", &c.dedup.options.memory_mib},
        {"threads", &c.dedup.options.threads}}},
  };
}

template <typename T>
bool Convert(const YAML::Node& node, T* out) {
  if (!node.IsScalar()) return false;
  try {
    *out = node.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

absl::Status SetField(const Field& field, const YAML::Node& node, const std::string& where) {
  const bool ok = std::visit([&](auto* p) { return Convert(node, p); }, field.ptr);
  if (ok) return absl::OkStatus();
  std::string shown = node.IsScalar() ? node.Scalar() : "(not a single value)";
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": bad value '", shown, "' for ", field.name));
}

}  // namespace

absl::StatusOr<RunConfig> ParseConfig(const std::string& yaml_text, const std::string& origin) {
  RunConfig config;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not valid YAML: ", e.what()));
  }
  if (root.IsNull()) return config;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": the config must be a YAML mapping"));
  }
  std::vector<Section> schema = Schema(config);
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    if (key == "filters") {
      config.filters = YAML::Clone(entry.second);
      continue;
    }
    const Section* section = nullptr;
    for (const Section& s : schema) {
      if (key == s.name) section = &s;
    }
    if (section == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": unknown section '", key,
                       "' (known: reader, extract, fetch, store, dedup, filters)"));
    }
    if (entry.second.IsNull()) continue;
    if (!entry.second.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": '", key, "' must be a mapping"));
    }
    for (const auto& item : entry.second) {
      const std::string name = item.first.as<std::string>();
      const Field* field = nullptr;
      for (const Field& f : section->fields) {
        if (name == f.name) field = &f;
      }
      if (field == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(origin, ": unknown key '", key, ".", name, "'"));
      }
      absl::Status s = SetField(*field, item.second, absl::StrCat(origin, ": ", key));
      if (!s.ok()) return s;
    }
  }
  if (config.store.num_shards < 1 || config.store.num_shards > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": store.num_shards must be between 1 and 4096"));
  }
  if (config.dedup.scope != "snapshot" && config.dedup.scope != "all") {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": dedup.scope must be snapshot or all, not '", config.dedup.scope, "'"));
  }
  if (absl::Status s = ValidateDedupOptions(config.dedup.options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", s.message()));
  }
  if (config.fetch.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": fetch.max_attempts must be >= 1"));
  }
  return config;
}

absl::StatusOr<RunConfig> LoadConfig(const std::string& path) {
  if (path.empty()) return ParseConfig("", "<default>");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

std::string ConfigToYaml(const RunConfig& const_config, bool with_dedup) {
  RunConfig config = const_config;  // Schema binds mutable pointers; we only read through them
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const Section& section : Schema(config)) {
    if (!with_dedup && std::string_view(section.name) == "dedup") continue;
    out << YAML::Key << section.name << YAML::Value << YAML::BeginMap;
    for (const Field& field : section.fields) {
      out << YAML::Key << field.name << YAML::Value;
      std::visit([&](auto* p) { out << *p; }, field.ptr);
    }
    out << YAML::EndMap;
  }
  if (config.filters && !config.filters.IsNull()) {
    out << YAML::Key << "filters" << YAML::Value << config.filters;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace winnow::pipeline
