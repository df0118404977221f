// filters/params.h — binds a filter's options struct to parameter names, so the same names work in
// the YAML config (`filters: {gopher_quality: {min_doc_words: 10}}`) and on the command line
// (`--set gopher_quality.min_doc_words=10`). Names are the reference's (datatrove's) parameter
// names.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {

// (n, threshold) pairs, e.g. Gopher's top_n_grams ((2, 0.20), (3, 0.18), (4, 0.16)).
using NGramThresholds = std::vector<std::pair<int, double>>;

class ParamBinder {
 public:
  explicit ParamBinder(std::string filter_name) : filter_(std::move(filter_name)) {}

  void Int(const char* name, int* field) { params_.push_back({name, field}); }
  void Int64(const char* name, int64_t* field) { params_.push_back({name, field}); }
  void Double(const char* name, double* field) { params_.push_back({name, field}); }
  void Bool(const char* name, bool* field) { params_.push_back({name, field}); }
  void String(const char* name, std::string* field) { params_.push_back({name, field}); }
  // A list: a YAML sequence, or one string split on commas ("en,it").
  void StringList(const char* name, std::vector<std::string>* field) {
    params_.push_back({name, field});
  }
  void Thresholds(const char* name, NGramThresholds* field) { params_.push_back({name, field}); }

  // Sets every key of a YAML mapping. Unknown keys and bad values are InvalidArgument errors that
  // name `where`, the filter, the key and the value. Keys in `ignore` are skipped (e.g. "enabled").
  absl::Status Apply(const YAML::Node& map, std::string_view where,
                     const std::vector<std::string>& ignore = {});
  // Sets one parameter from its command-line text (`--set filter.name=value`). The text is read as
  // YAML, so `[[2, 0.2], [3, 0.18]]` works for thresholds and `en,it` for lists.
  absl::Status Set(std::string_view name, std::string_view value, std::string_view where);
  // Every parameter with its current value (the effective config).
  YAML::Node ToYaml() const;
  bool Has(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  using Field = std::variant<int*, int64_t*, double*, bool*, std::string*,
                             std::vector<std::string>*, NGramThresholds*>;
  struct Param {
    const char* name;
    Field field;
  };
  const Param* Find(std::string_view name) const;
  absl::Status SetNode(const Param& param, const YAML::Node& value, std::string_view where) const;

  std::string filter_;
  std::vector<Param> params_;
};

}  // namespace winnow::filters
