#include "filters/custom_filter.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filters/internal/aho_corasick.h"
#include "filters/internal/list_file.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace winnow::filters {

struct KeywordFilter::Matcher {
  internal::AhoCorasick automaton;
  size_t num_keywords = 0;
};

struct RegexFilter::Matcher {
  explicit Matcher(const RE2::Options& options) : set(options, RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> each;  // for inputs too large for the set's DFA budget
};

namespace {

std::string_view Subject(const pipeline::Document& doc, const std::string& field) {
  if (field != "url") return doc.text;
  if (!doc.url.empty()) return doc.url;
  const auto it = doc.metadata.find("url");
  if (it != doc.metadata.end() && it->is_string()) return it->get_ref<const std::string&>();
  return {};
}

// The code point that ends just before `pos` / starts at `pos`, as its UTF-8 bytes.
std::string_view CharBefore(std::string_view s, size_t pos) {
  size_t begin = pos;
  while (begin > 0 && pos - begin < 4) {
    --begin;
    if ((static_cast<unsigned char>(s[begin]) & 0xC0) != 0x80) break;
  }
  return s.substr(begin, pos - begin);
}
std::string_view CharAt(std::string_view s, size_t pos) {
  size_t end = pos + 1;
  while (end < s.size() && end - pos < 4 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
    ++end;
  }
  return s.substr(pos, end - pos);
}

// A letter, digit or underscore in the Unicode sense (Python's \w).
bool IsWordChar(std::string_view ch) {
  if (ch.empty()) return false;
  const unsigned char c = ch[0];
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  static const RE2* const word = new RE2("[\\pL\\pN_]");
  return RE2::FullMatch(re2::StringPiece(ch.data(), ch.size()), *word);
}

absl::Status CheckField(const std::string& name, const std::string& field) {
  if (field == "text" || field == "url") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, ".field must be \"text\" or \"url\", got \"", field, "\""));
}

}  // namespace

void BindParams(KeywordFilterOptions* options, ParamBinder* binder) {
  binder->String("name", &options->name);
  binder->StringList("keywords", &options->keywords);
  binder->String("keywords_file", &options->keywords_file);
  binder->String("field", &options->field);
  binder->Bool("case_sensitive", &options->case_sensitive);
  binder->Bool("whole_word", &options->whole_word);
  binder->Int("min_matches", &options->min_matches);
  binder->Bool("count_distinct", &options->count_distinct);
  binder->String("reason", &options->reason);
}

void BindParams(RegexFilterOptions* options, ParamBinder* binder) {
  binder->String("name", &options->name);
  binder->StringList("patterns", &options->patterns);
  binder->String("field", &options->field);
  binder->Bool("case_sensitive", &options->case_sensitive);
  binder->String("mode", &options->mode);
  binder->String("reason", &options->reason);
}

// ---- Keyword ------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<KeywordFilter>> KeywordFilter::Create(KeywordFilterOptions options) {
  if (absl::Status s = CheckField(options.name, options.field); !s.ok()) return s;
  if (options.min_matches < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ".min_matches must be at least 1, got ", options.min_matches));
  }
  std::vector<std::string> keywords;
  for (const std::string& k : options.keywords) {
    if (!k.empty()) keywords.push_back(k);
  }
  if (!options.keywords_file.empty()) {
    absl::Status s = internal::ReadListFile(
        options.keywords_file, [&](std::string_view line) { keywords.emplace_back(line); });
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(options.name, ": ", s.message()));
  }
  if (keywords.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": a keyword filter needs keywords or a keywords_file"));
  }
  auto matcher = std::make_unique<Matcher>();
  matcher->automaton = internal::AhoCorasick(keywords, !options.case_sensitive);
  matcher->num_keywords = keywords.size();
  return std::make_unique<KeywordFilter>(std::move(options), std::move(matcher));
}

KeywordFilter::KeywordFilter(KeywordFilterOptions options, std::unique_ptr<const Matcher> matcher)
    : options_(std::move(options)), matcher_(std::move(matcher)) {}
KeywordFilter::~KeywordFilter() = default;

int KeywordFilter::CountMatches(std::string_view subject) const {
  int count = 0;
  std::vector<bool> seen(options_.count_distinct ? matcher_->num_keywords : 0, false);
  matcher_->automaton.ForEachMatch(subject, [&](size_t keyword, size_t begin, size_t end) {
    if (options_.whole_word && ((begin > 0 && IsWordChar(CharBefore(subject, begin))) ||
                                (end < subject.size() && IsWordChar(CharAt(subject, end))))) {
      return true;
    }
    if (options_.count_distinct) {
      if (seen[keyword]) return true;
      seen[keyword] = true;
    }
    return ++count < options_.min_matches;
  });
  return count;
}

pipeline::Verdict KeywordFilter::Check(pipeline::Document* doc) const {
  if (CountMatches(Subject(*doc, options_.field)) >= options_.min_matches) {
    return pipeline::Verdict::Drop(options_.reason);
  }
  return pipeline::Verdict::Keep();
}

// ---- Regex --------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RegexFilter>> RegexFilter::Create(RegexFilterOptions options) {
  if (absl::Status s = CheckField(options.name, options.field); !s.ok()) return s;
  if (options.mode != "drop" && options.mode != "keep") {
    return absl::InvalidArgumentError(absl::StrCat(
        options.name, ".mode must be \"drop\" or \"keep\", got \"", options.mode, "\""));
  }
  if (options.patterns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": a regex filter needs patterns"));
  }
  RE2::Options re_options;
  re_options.set_case_sensitive(options.case_sensitive);
  re_options.set_max_mem(256 << 20);
  re_options.set_log_errors(false);
  auto matcher = std::make_unique<Matcher>(re_options);
  for (const std::string& pattern : options.patterns) {
    std::string error;
    if (matcher->set.Add(pattern, &error) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.name, ": invalid pattern '", pattern, "': ", error));
    }
    matcher->each.push_back(std::make_unique<RE2>(pattern, re_options));
  }
  if (!matcher->set.Compile()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": patterns too large to compile"));
  }
  return std::make_unique<RegexFilter>(std::move(options), std::move(matcher));
}

RegexFilter::RegexFilter(RegexFilterOptions options, std::unique_ptr<const Matcher> matcher)
    : options_(std::move(options)), matcher_(std::move(matcher)) {}
RegexFilter::~RegexFilter() = default;

pipeline::Verdict RegexFilter::Check(pipeline::Document* doc) const {
  const std::string_view subject = Subject(*doc, options_.field);
  const re2::StringPiece text(subject.data(), subject.size());
  RE2::Set::ErrorInfo error;
  bool matched = matcher_->set.Match(text, nullptr, &error);
  if (!matched && error.kind == RE2::Set::kOutOfMemory) {
    for (const auto& re : matcher_->each) {
      if (RE2::PartialMatch(text, *re)) {
        matched = true;
        break;
      }
    }
  }
  const bool drop = options_.mode == "drop" ? matched : !matched;
  return drop ? pipeline::Verdict::Drop(options_.reason) : pipeline::Verdict::Keep();
}

// ---- From config --------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<pipeline::Filter>> MakeCustomFilter(const YAML::Node& spec,
                                                                   std::string_view where) {
  if (!spec.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), ": a custom filter must be a mapping with a type"));
  }
  const YAML::Node type_node = spec["type"];
  const std::string type = type_node && type_node.IsScalar() ? type_node.Scalar() : "";
  const YAML::Node name_node = spec["name"];
  const std::string name = name_node && name_node.IsScalar() ? name_node.Scalar() : type;
  const std::vector<std::string> ignore = {"type", "enabled"};
  if (type == "keyword") {
    KeywordFilterOptions options;
    options.name = name;
    ParamBinder binder(name);
    BindParams(&options, &binder);
    if (absl::Status s = binder.Apply(spec, where, ignore); !s.ok()) return s;
    auto filter = KeywordFilter::Create(std::move(options));
    if (!filter.ok()) return filter.status();
    return std::unique_ptr<pipeline::Filter>(std::move(*filter));
  }
  if (type == "regex") {
    RegexFilterOptions options;
    options.name = name;
    ParamBinder binder(name);
    BindParams(&options, &binder);
    if (absl::Status s = binder.Apply(spec, where, ignore); !s.ok()) return s;
    auto filter = RegexFilter::Create(std::move(options));
    if (!filter.ok()) return filter.status();
    return std::unique_ptr<pipeline::Filter>(std::move(*filter));
  }
  return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": custom filter '", name,
                                                 "' has type '", type,
                                                 "' (expected keyword or regex)"));
}

}  // namespace winnow::filters
