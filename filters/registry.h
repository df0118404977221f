// filters/registry.h — builds the filter chain from the `filters:` section of a config.
//
//   filters:
//     profile: datatrove          # or fineweb-v1: the few places where FineWeb v1 differed
//     order: [url, language, gopher_repetition, gopher_quality, c4_quality, fineweb_quality, pii]
//     gopher_quality: {min_doc_words: 30}     # any parameter, under the reference's name
//     pii: {enabled: false}                   # switch one off
//     custom:                                 # filters added without recompiling
//       - {name: no_casino, type: keyword, keywords: [casino, poker], field: url}
//       - {name: no_lorem, type: regex, patterns: ['(?i)lorem ipsum']}
//
// With no section the chain is the FineWeb recipe (../shared/specs/filters.md) in that order, with
// the C4 terminal-punctuation rule off. Errors name the origin, the filter and the parameter.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/filter.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {

// The FineWeb recipe's filters, in order.
const std::vector<std::string>& DefaultFilterOrder();

struct ChainOptions {
  std::vector<std::string> only;  // --only: run just these filters (chain order kept)
  std::vector<std::string> sets;  // --set NAME.PARAM=VALUE, applied after the config
  std::string assets_dir;         // word lists and models; "" = FindAssetsDir()
};

struct FilterChain {
  std::vector<std::unique_ptr<pipeline::Filter>> filters;
  YAML::Node effective;  // the section as used: profile, order and every parameter's value
};

absl::StatusOr<FilterChain> BuildFilterChain(const YAML::Node& section, const ChainOptions& options,
                                             const std::string& origin);

// Where the default word lists (filters/*.txt) and the language model (models/lid.176.ftz) are:
// $WINNOW_ASSETS_DIR, else the `shared/data` folder beside the checkout the binary was built in,
// else "" (the filters that need them then fail at start-up, saying which file is missing).
std::string FindAssetsDir();

}  // namespace winnow::filters
