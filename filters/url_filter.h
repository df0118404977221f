// filters/url_filter.h — the reference's URL filter (datatrove URLFilter): drops pages by domain,
// host, exact URL and banned words in the URL. Checks run in this order, first hit wins:
//   1. registered domain (tldextract, ICANN suffixes) in the domain blocklist → "domain"
//   2. full host in the domain blocklist                                    → "subdomain"
//   3. the URL in the URL blocklist                                         → "url"
//   4. a URL word (split on [^a-zA-Z0-9]+, case kept) is a banned word      → "hard_blacklisted"
//   5. at least soft_word_threshold distinct URL words are soft-banned      → "soft_blacklisted"
//   6. the URL, [^a-zA-Z0-9] removed and lower-cased, contains a banned subword
//      (Aho-Corasick, cost independent of the list size)                     →
//      "blacklisted_subword"
// Word-list entries are normalised as the reference does (non-alphanumerics removed, lower-cased).
// Domain and URL entries are used as given (whitespace trimmed); domains and hosts are compared
// lower-cased. Lists are loaded once, in Create; lookups are hash-set probes.
//
// Default list paths: the options hold paths, and "" means "no list". The reference's three word
// lists live in the assets folder (shared/data/filters/*.txt); whoever builds the filter from
// config calls SetDefaultDataPaths(FindAssetsDir(), &options) (filters/registry.h) to fill the
// paths left empty.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct UrlFilterOptions {
  int soft_word_threshold = 2;  // this many distinct soft-banned words → soft_blacklisted
  std::vector<std::string> extra_domains;  // blocked registered domains or hosts, besides the files
  std::vector<std::string> extra_urls;     // blocked URLs, besides the files
  std::vector<std::string> banned_words;   // extra hard-banned URL words (normalised)
  std::vector<std::string> banned_subwords;    // extra banned subwords (normalised)
  std::vector<std::string> soft_banned_words;  // extra soft-banned URL words (normalised)
  bool use_integrated_lists = true;    // load the three word-list files below (false: extras only)
  std::string banned_words_file;       // "" = none; reference: data/filters/banned_words.txt
  std::string soft_banned_words_file;  // "" = none; reference: data/filters/soft_banned_words.txt
  std::string banned_subwords_file;    // "" = none; reference: data/filters/banned_subwords.txt
  std::vector<std::string> domain_blocklist_files;  // plain or .gz, a domain per line, # comments
  std::vector<std::string> url_blocklist_files;     // plain or .gz, a URL per line, # comments
  bool match_urls_without_scheme = false;  // also look the URL up without "scheme://" (UT1's urls
                                           // list has no scheme; the reference compares as is)
};

// Binds every option under its datatrove name (the *_file and *_blocklist_files are ours).
void BindParams(UrlFilterOptions* options, ParamBinder* binder);

// Fills the word-list paths left empty with the reference lists under `data_dir` (the shared data
// folder, holding filters/banned_words.txt …). With an empty `data_dir` the paths are relative
// ("filters/banned_words.txt"), so a missing assets folder fails in Create, naming the file.
void SetDefaultDataPaths(std::string_view data_dir, UrlFilterOptions* options);

class UrlFilter final : public pipeline::Filter {
 public:
  // Loads every list once. A missing or unreadable file is an error naming its path.
  static absl::StatusOr<std::unique_ptr<UrlFilter>> Create(const UrlFilterOptions& options);

  std::string_view name() const override { return "url"; }
  pipeline::Verdict Check(pipeline::Document* doc) const override;
  bool UrlOnly() const override { return true; }

  // The decision for a bare URL (Check reads doc->url, or metadata["url"] when that is empty).
  pipeline::Verdict CheckUrl(std::string_view url) const;

  size_t num_blocked_domains() const;
  size_t num_blocked_urls() const;

  struct Lists;  // the loaded lists (url_filter.cc)
  explicit UrlFilter(std::unique_ptr<const Lists> lists);
  ~UrlFilter() override;

 private:
  std::unique_ptr<const Lists> lists_;
};

}  // namespace winnow::filters
