#include "filters/registry.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "filters/c4_quality.h"
#include "filters/custom_filter.h"
#include "filters/fineweb_quality.h"
#include "filters/gopher_quality.h"
#include "filters/gopher_repetition.h"
#include "filters/language_filter.h"
#include "filters/params.h"
#include "filters/pii.h"
#include "filters/url_filter.h"

namespace winnow::filters {
namespace {

using Sets = std::vector<std::pair<std::string, std::string>>;  // (param, value) for one filter

struct Context {
  std::string origin;       // names the config in errors
  std::string assets_dir;   // default word lists and models
  bool fineweb_v1 = false;  // profile: fineweb-v1
};

struct Built {
  std::unique_ptr<pipeline::Filter> filter;
  YAML::Node params;  // every parameter's value as used
};

using MakeFn = std::function<absl::StatusOr<Built>(const Context&, const std::string& name,
                                                   const YAML::Node& params, const Sets& sets)>;

// Filters whose constructor can fail (files, models) offer a static Create; the others are built
// directly from their options.
template <typename F, typename O>
absl::StatusOr<std::unique_ptr<pipeline::Filter>> Construct(const O& options,
                                                            const std::string& name) {
  if constexpr (requires { F::Create(options, name); }) {
    auto made = F::Create(options, name);
    if (!made.ok()) return made.status();
    return std::unique_ptr<pipeline::Filter>(std::move(*made));
  } else if constexpr (requires { F::Create(options); }) {
    auto made = F::Create(options);
    if (!made.ok()) return made.status();
    return std::unique_ptr<pipeline::Filter>(std::move(*made));
  } else {
    return std::unique_ptr<pipeline::Filter>(std::make_unique<F>(options));
  }
}

// The one way every filter is configured: data-file defaults, the recipe's own defaults, the
// profile, the config's parameters, then --set overrides.
template <typename F, typename O>
MakeFn Maker(std::function<void(O*)> recipe = nullptr) {
  return [recipe](const Context& ctx, const std::string& name, const YAML::Node& params,
                  const Sets& sets) -> absl::StatusOr<Built> {
    O options;
    if constexpr (requires(O * o, std::string_view dir) { SetDefaultDataPaths(dir, o); }) {
      if (!ctx.assets_dir.empty()) SetDefaultDataPaths(ctx.assets_dir, &options);
    }
    if (recipe) recipe(&options);
    if constexpr (requires(O * o) { ApplyFinewebV1Profile(o); }) {
      if (ctx.fineweb_v1) ApplyFinewebV1Profile(&options);
    }
    if constexpr (requires { options.name = name; }) options.name = name;  // custom filters
    ParamBinder binder(name);
    BindParams(&options, &binder);
    if (absl::Status s = binder.Apply(params, ctx.origin, {"enabled", "type"}); !s.ok()) {
      return s;
    }
    for (const auto& [param, value] : sets) {
      if (absl::Status s = binder.Set(param, value, "--set"); !s.ok()) return s;
    }
    absl::StatusOr<std::unique_ptr<pipeline::Filter>> filter = Construct<F>(options, name);
    if (!filter.ok()) {
      return absl::Status(filter.status().code(),
                          absl::StrCat(ctx.origin, ": filter '", name,
                                       "': ", std::string(filter.status().message())));
    }
    return Built{std::move(*filter), binder.ToYaml()};
  };
}

// Every built-in filter type by name. The FineWeb recipe differs from the reference classes'
// defaults in one place: C4's terminal-punctuation rule is off.
const std::vector<std::pair<std::string, MakeFn>>& BuiltinTypes() {
  static const auto* types = new std::vector<std::pair<std::string, MakeFn>>{
      {"url", Maker<UrlFilter, UrlFilterOptions>()},
      {"language", Maker<LanguageFilter, LanguageFilterOptions>()},
      {"gopher_repetition", Maker<GopherRepetitionFilter, GopherRepetitionOptions>()},
      {"gopher_quality", Maker<GopherQualityFilter, GopherQualityOptions>()},
      {"c4_quality", Maker<C4QualityFilter, C4QualityOptions>(
                         [](C4QualityOptions* o) { o->filter_no_terminal_punct = false; })},
      {"c4_paragraph", Maker<C4ParagraphFilter, C4ParagraphOptions>()},
      {"fineweb_quality", Maker<FineWebQualityFilter, FineWebQualityOptions>()},
      {"pii", Maker<PiiFormatter, PiiOptions>()},
  };
  return *types;
}

// Custom filter kinds, chosen by `type:` in a `custom:` entry.
const std::vector<std::pair<std::string, MakeFn>>& CustomTypes() {
  static const auto* types = new std::vector<std::pair<std::string, MakeFn>>{
      {"keyword", Maker<KeywordFilter, KeywordFilterOptions>()},
      {"regex", Maker<RegexFilter, RegexFilterOptions>()},
  };
  return *types;
}

const MakeFn* FindType(const std::vector<std::pair<std::string, MakeFn>>& types,
                       const std::string& name) {
  for (const auto& [type, make] : types) {
    if (type == name) return &make;
  }
  return nullptr;
}

std::string Known(const std::vector<std::pair<std::string, MakeFn>>& types) {
  std::string out;
  for (const auto& [type, make] : types) absl::StrAppend(&out, out.empty() ? "" : ", ", type);
  return out;
}

absl::Status Invalid(const std::string& origin, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": filters: ", what));
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

const std::vector<std::string>& DefaultFilterOrder() {
  static const auto* order = new std::vector<std::string>{
      "url", "language", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality",
      "pii"};
  return *order;
}

std::string FindAssetsDir() {
  if (const char* env = std::getenv("WINNOW_ASSETS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
#ifdef WINNOW_DEFAULT_ASSETS_DIR
  if (std::filesystem::is_directory(WINNOW_DEFAULT_ASSETS_DIR, ec)) {
    return std::filesystem::weakly_canonical(WINNOW_DEFAULT_ASSETS_DIR, ec).string();
  }
#endif
  // An installed binary: BIN/../share/winnow holds the same files.
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path share = exe.parent_path().parent_path() / "share" / "winnow";
    if (std::filesystem::is_directory(share, ec)) return share.string();
  }
  return "";
}

absl::StatusOr<FilterChain> BuildFilterChain(const YAML::Node& section, const ChainOptions& options,
                                             const std::string& origin) {
  Context ctx;
  ctx.origin = origin;
  ctx.assets_dir = options.assets_dir.empty() ? FindAssetsDir() : options.assets_dir;
  const bool has_section = section && section.IsDefined() && !section.IsNull();
  if (has_section && !section.IsMap()) return Invalid(origin, "must be a mapping");

  std::string profile = "datatrove";
  if (has_section && section["profile"]) profile = section["profile"].as<std::string>("");
  if (profile != "datatrove" && profile != "fineweb-v1") {
    return Invalid(origin, "unknown profile '" + profile + "' (datatrove or fineweb-v1)");
  }
  ctx.fineweb_v1 = profile == "fineweb-v1";

  // Custom filters: name → (type, params).
  std::vector<std::pair<std::string, YAML::Node>> custom;
  if (has_section && section["custom"]) {
    const YAML::Node list = section["custom"];
    if (!list.IsSequence()) return Invalid(origin, "'custom' must be a list of filters");
    for (const YAML::Node& entry : list) {
      if (!entry.IsMap() || !entry["name"] || !entry["type"]) {
        return Invalid(origin, "each custom filter needs a 'name' and a 'type' (keyword or regex)");
      }
      const std::string name = entry["name"].as<std::string>("");
      if (FindType(BuiltinTypes(), name) != nullptr || name.empty() || name == "custom" ||
          name.find('/') != std::string::npos) {
        return Invalid(origin, "custom filter name '" + name +
                                   "' is empty, contains '/', or is a built-in filter's name");
      }
      if (FindType(CustomTypes(), entry["type"].as<std::string>("")) == nullptr) {
        return Invalid(origin, "custom filter '" + name + "': unknown type '" +
                                   entry["type"].as<std::string>("") +
                                   "' (known: " + Known(CustomTypes()) + ")");
      }
      custom.emplace_back(name, entry);
    }
  }
  auto is_known = [&](const std::string& name) {
    if (FindType(BuiltinTypes(), name) != nullptr) return true;
    for (const auto& [n, e] : custom) {
      if (n == name) return true;
    }
    return false;
  };

  // Unknown keys are errors: a typo must not silently run the default.
  if (has_section) {
    for (const auto& entry : section) {
      const std::string key = entry.first.as<std::string>();
      if (key == "profile" || key == "order" || key == "custom") continue;
      if (FindType(BuiltinTypes(), key) == nullptr) {
        return Invalid(origin, "unknown filter '" + key + "' (known: " + Known(BuiltinTypes()) +
                                   "; add your own under 'custom')");
      }
    }
  }

  // The chain's order: the config's, else the recipe's followed by the custom filters.
  std::vector<std::string> order;
  if (has_section && section["order"]) {
    if (!section["order"].IsSequence()) return Invalid(origin, "'order' must be a list of names");
    for (const YAML::Node& n : section["order"]) {
      const std::string name = n.as<std::string>("");
      if (!is_known(name)) return Invalid(origin, "'order' names unknown filter '" + name + "'");
      if (Contains(order, name)) return Invalid(origin, "'order' names '" + name + "' twice");
      order.push_back(name);
    }
  } else {
    order = DefaultFilterOrder();
    for (const auto& [name, entry] : custom) order.push_back(name);
  }
  for (const std::string& name : options.only) {
    if (!is_known(name)) return Invalid(origin, "--only names unknown filter '" + name + "'");
    if (!Contains(order, name)) order.push_back(name);
  }

  // --set NAME.PARAM=VALUE, grouped by filter.
  std::vector<std::pair<std::string, Sets>> sets;
  for (const std::string& set : options.sets) {
    const size_t dot = set.find('.');
    const size_t eq = set.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot > eq) {
      return absl::InvalidArgumentError("--set " + set + ": expected NAME.PARAM=VALUE");
    }
    const std::string name = set.substr(0, dot);
    if (!is_known(name))
      return absl::InvalidArgumentError("--set " + set + ": unknown filter '" + name + "'");
    auto it =
        std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s.first == name; });
    if (it == sets.end()) it = sets.insert(sets.end(), {name, {}});
    it->second.emplace_back(set.substr(dot + 1, eq - dot - 1), set.substr(eq + 1));
  }

  FilterChain chain;
  chain.effective = YAML::Node(YAML::NodeType::Map);
  chain.effective["profile"] = profile;
  YAML::Node effective_order(YAML::NodeType::Sequence);
  YAML::Node effective_custom(YAML::NodeType::Sequence);
  // The parameters the config gives a filter (a custom filter's whole entry), or null.
  auto params_of = [&](const std::string& name) -> YAML::Node {
    for (const auto& [n, entry] : custom) {
      if (n == name) return entry;
    }
    if (has_section && section[name]) return section[name];
    return YAML::Node();
  };
  for (const std::string& name : order) {
    const YAML::Node params = params_of(name);
    const bool is_builtin = FindType(BuiltinTypes(), name) != nullptr;
    const MakeFn* make = is_builtin ? FindType(BuiltinTypes(), name)
                                    : FindType(CustomTypes(), params["type"].as<std::string>());
    const bool enabled = !params.IsMap() || !params["enabled"] || params["enabled"].as<bool>(true);
    if (!options.only.empty() ? !Contains(options.only, name) : !enabled) continue;
    Sets filter_sets;
    for (const auto& [n, s] : sets) {
      if (n == name) filter_sets = s;
    }
    absl::StatusOr<Built> built = (*make)(ctx, name, params, filter_sets);
    if (!built.ok()) return built.status();
    chain.filters.push_back(std::move(built->filter));
    effective_order.push_back(name);
    YAML::Node used = built->params;
    if (!is_builtin) {
      used["name"] = name;
      used["type"] = params["type"];
      effective_custom.push_back(used);
    } else {
      chain.effective[name] = used;
    }
  }
  effective_order.SetStyle(YAML::EmitterStyle::Flow);
  chain.effective["order"] = effective_order;
  if (effective_custom.size() > 0) chain.effective["custom"] = effective_custom;
  return chain;
}

}  // namespace winnow::filters
