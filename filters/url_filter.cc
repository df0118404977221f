#include "filters/url_filter.h"

#include <libpsl.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "filters/internal/aho_corasick.h"
#include "filters/internal/list_file.h"
#include "filters/internal/string_set.h"
#include "filters/internal/url_parts.h"

namespace winnow::filters {

using pipeline::Verdict;

struct UrlFilter::Lists {
  int soft_word_threshold = 2;
  bool match_urls_without_scheme = false;
  internal::StringSet domains;
  internal::StringSet urls;
  internal::StringSet banned_words;
  internal::StringSet soft_banned_words;
  internal::AhoCorasick banned_subwords;
};

namespace {

bool IsAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The reference's list normalisation: [^a-zA-Z0-9]+ removed, lower-cased.
std::string Normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (IsAlnum(static_cast<unsigned char>(c))) out.push_back(Lower(c));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

// tldextract's scheme removal: "//host…" or "scheme://host…" where scheme has only letters,
// digits, '+', '-' and '.'; anything else is taken to start with the host.
std::string_view SchemelessUrl(std::string_view url) {
  const size_t slashes = url.find("//");
  if (slashes == 0) return url.substr(2);
  if (slashes == std::string_view::npos || slashes < 2 || url[slashes - 1] != ':') return url;
  for (size_t i = 0; i + 1 < slashes; ++i) {
    const char c = url[i];
    if (!IsAlnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return url;
  }
  return url.substr(slashes + 2);
}

// The ideographic full stops tldextract reads as dots: U+3002, U+FF0E, U+FF61.
std::string AsciiDots(std::string_view host) {
  std::string out;
  out.reserve(host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    const std::string_view rest = host.substr(i);
    if (rest.substr(0, 3) == "\xE3\x80\x82" || rest.substr(0, 3) == "\xEF\xBC\x8E" ||
        rest.substr(0, 3) == "\xEF\xBD\xA1") {
      out.push_back('.');
      i += 2;
    } else {
      out.push_back(host[i]);
    }
  }
  return out;
}

std::string HostOf(std::string_view url) {
  std::string_view authority = SchemelessUrl(url);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close != std::string_view::npos) return LowerCopy(authority.substr(0, close + 1));
  }
  std::string host = AsciiDots(Trim(authority.substr(0, authority.find(':'))));
  while (!host.empty() && host.back() == '.') host.pop_back();
  for (char& c : host) c = Lower(c);
  return host;
}

const psl_ctx_t* PublicSuffixList() {
  static const psl_ctx_t* const psl = [] {
    const psl_ctx_t* p = psl_latest(nullptr);
    if (p == nullptr) p = psl_builtin();
    if (p == nullptr) p = psl_load_file("/usr/share/publicsuffix/public_suffix_list.dat");
    return p;
  }();
  return psl;
}

// Public suffix rules have at most a handful of labels; looking further left only costs time on
// pathological hosts.
constexpr size_t kMaxSuffixLabels = 16;

template <typename OnLine>
absl::Status ReadList(const std::string& path, const char* what, OnLine&& on_line) {
  absl::Status status = internal::ReadListFile(path, std::forward<OnLine>(on_line));
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat("url filter ", what, ": ", status.message()));
  }
  return status;
}

}  // namespace

namespace internal {

bool PublicSuffixListAvailable() { return PublicSuffixList() != nullptr; }

UrlHost ParseUrlHost(std::string_view url) {
  UrlHost out;
  out.host = HostOf(url);
  const psl_ctx_t* psl = PublicSuffixList();
  if (out.host.empty() || psl == nullptr || out.host.front() == '[') return out;
  // Label starts, then the longest suffix (fewest labels to its left) that is an ICANN rule.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < out.host.size(); ++i) {
    if (out.host[i] == '.') starts.push_back(i + 1);
  }
  const size_t n = starts.size();
  size_t suffix = n;
  for (size_t i = n > kMaxSuffixLabels ? n - kMaxSuffixLabels : 0; i < n; ++i) {
    const std::string candidate = out.host.substr(starts[i]);
    if (!candidate.empty() &&
        psl_is_public_suffix2(psl, candidate.c_str(), PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE)) {
      suffix = i;
      break;
    }
  }
  if (suffix == n || suffix == 0) return out;  // no suffix, or the host is itself a suffix
  const size_t domain_start = starts[suffix - 1];
  if (starts[suffix] - 1 == domain_start) return out;  // empty domain label ("..com")
  out.registered_domain = out.host.substr(domain_start);
  // tldextract joins the non-empty parts: an empty subdomain (a lone leading dot) vanishes.
  const bool no_subdomain = suffix == 1 || (suffix == 2 && starts[1] == 1);
  out.fqdn = no_subdomain ? out.registered_domain : out.host;
  return out;
}

}  // namespace internal

void BindParams(UrlFilterOptions* options, ParamBinder* binder) {
  binder->Int("soft_word_threshold", &options->soft_word_threshold);
  binder->StringList("extra_domains", &options->extra_domains);
  binder->StringList("extra_urls", &options->extra_urls);
  binder->StringList("banned_words", &options->banned_words);
  binder->StringList("banned_subwords", &options->banned_subwords);
  binder->StringList("soft_banned_words", &options->soft_banned_words);
  binder->Bool("use_integrated_lists", &options->use_integrated_lists);
  binder->String("banned_words_file", &options->banned_words_file);
  binder->String("soft_banned_words_file", &options->soft_banned_words_file);
  binder->String("banned_subwords_file", &options->banned_subwords_file);
  binder->StringList("domain_blocklist_files", &options->domain_blocklist_files);
  binder->StringList("url_blocklist_files", &options->url_blocklist_files);
  binder->Bool("match_urls_without_scheme", &options->match_urls_without_scheme);
}

void SetDefaultDataPaths(std::string_view data_dir, UrlFilterOptions* options) {
  const std::string dir = data_dir.empty() ? "filters/" : std::string(data_dir) + "/filters/";
  if (options->banned_words_file.empty()) options->banned_words_file = dir + "banned_words.txt";
  if (options->soft_banned_words_file.empty()) {
    options->soft_banned_words_file = dir + "soft_banned_words.txt";
  }
  if (options->banned_subwords_file.empty()) {
    options->banned_subwords_file = dir + "banned_subwords.txt";
  }
}

UrlFilter::UrlFilter(std::unique_ptr<const Lists> lists) : lists_(std::move(lists)) {}
UrlFilter::~UrlFilter() = default;

size_t UrlFilter::num_blocked_domains() const { return lists_->domains.size(); }
size_t UrlFilter::num_blocked_urls() const { return lists_->urls.size(); }

absl::StatusOr<std::unique_ptr<UrlFilter>> UrlFilter::Create(const UrlFilterOptions& options) {
  if (options.soft_word_threshold < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "url.soft_word_threshold must be at least 1, got ", options.soft_word_threshold));
  }
  if (PublicSuffixList() == nullptr) {
    return absl::FailedPreconditionError("url filter: no public suffix list (libpsl) available");
  }
  auto lists = std::make_unique<Lists>();
  lists->soft_word_threshold = options.soft_word_threshold;
  lists->match_urls_without_scheme = options.match_urls_without_scheme;

  auto add_domain = [&](std::string_view line) {
    const std::string_view entry = Trim(line);
    if (!entry.empty() && entry.front() != '#') lists->domains.Insert(LowerCopy(entry));
  };
  auto add_url = [&](std::string_view line) {
    const std::string_view entry = Trim(line);
    if (!entry.empty() && entry.front() != '#') lists->urls.Insert(entry);
  };
  auto word_adder = [](internal::StringSet* set) {
    return [set](std::string_view line) {
      const std::string word = Normalize(line);
      if (!word.empty()) set->Insert(word);
    };
  };
  for (const std::string& d : options.extra_domains) add_domain(d);
  for (const std::string& u : options.extra_urls) add_url(u);
  for (const std::string& path : options.domain_blocklist_files) {
    if (absl::Status s = ReadList(path, "domain_blocklist_files", add_domain); !s.ok()) return s;
  }
  for (const std::string& path : options.url_blocklist_files) {
    if (absl::Status s = ReadList(path, "url_blocklist_files", add_url); !s.ok()) return s;
  }

  auto add_banned = word_adder(&lists->banned_words);
  auto add_soft = word_adder(&lists->soft_banned_words);
  std::vector<std::string> subwords;
  auto add_subword = [&](std::string_view line) {
    std::string word = Normalize(line);
    if (!word.empty()) subwords.push_back(std::move(word));
  };
  for (const std::string& w : options.banned_words) {
    if (!w.empty() && w.front() != '#') add_banned(w);
  }
  for (const std::string& w : options.soft_banned_words) {
    if (!w.empty() && w.front() != '#') add_soft(w);
  }
  for (const std::string& w : options.banned_subwords) {
    if (!w.empty() && w.front() != '#') add_subword(w);
  }
  if (options.use_integrated_lists) {
    if (!options.banned_words_file.empty()) {
      absl::Status s = ReadList(options.banned_words_file, "banned_words_file", add_banned);
      if (!s.ok()) return s;
    }
    if (!options.soft_banned_words_file.empty()) {
      absl::Status s = ReadList(options.soft_banned_words_file, "soft_banned_words_file", add_soft);
      if (!s.ok()) return s;
    }
    if (!options.banned_subwords_file.empty()) {
      absl::Status s = ReadList(options.banned_subwords_file, "banned_subwords_file", add_subword);
      if (!s.ok()) return s;
    }
  }
  lists->banned_subwords = internal::AhoCorasick(subwords);
  return std::make_unique<UrlFilter>(std::move(lists));
}

Verdict UrlFilter::Check(pipeline::Document* doc) const {
  if (!doc->url.empty()) return CheckUrl(doc->url);
  const auto it = doc->metadata.find("url");
  if (it != doc->metadata.end() && it->is_string())
    return CheckUrl(it->get_ref<const std::string&>());
  return Verdict::Keep();  // nothing to judge (the reference requires a URL)
}

Verdict UrlFilter::CheckUrl(std::string_view url) const {
  const Lists& l = *lists_;
  if (url.empty()) return Verdict::Keep();
  if (!l.domains.empty()) {
    const internal::UrlHost parts = internal::ParseUrlHost(url);
    if (!parts.registered_domain.empty() && l.domains.Contains(parts.registered_domain)) {
      return Verdict::Drop("domain");
    }
    if (!parts.fqdn.empty() && l.domains.Contains(parts.fqdn)) return Verdict::Drop("subdomain");
  }
  if (!l.urls.empty()) {
    if (l.urls.Contains(url)) return Verdict::Drop("url");
    if (l.match_urls_without_scheme) {
      const size_t scheme_end = url.find("://");
      if (scheme_end != std::string_view::npos && l.urls.Contains(url.substr(scheme_end + 3))) {
        return Verdict::Drop("url");
      }
    }
  }
  // URL words: maximal runs of [a-zA-Z0-9], compared as they are (the lists are lower-case).
  if (!l.banned_words.empty() || !l.soft_banned_words.empty()) {
    std::vector<std::string_view> soft_hits;
    bool hard = false;
    size_t i = 0;
    while (i < url.size()) {
      while (i < url.size() && !IsAlnum(static_cast<unsigned char>(url[i]))) ++i;
      const size_t begin = i;
      while (i < url.size() && IsAlnum(static_cast<unsigned char>(url[i]))) ++i;
      if (i == begin) break;
      const std::string_view word = url.substr(begin, i - begin);
      if (l.banned_words.Contains(word)) {
        hard = true;
        break;
      }
      if (static_cast<int>(soft_hits.size()) < l.soft_word_threshold &&
          l.soft_banned_words.Contains(word) &&
          std::find(soft_hits.begin(), soft_hits.end(), word) == soft_hits.end()) {
        soft_hits.push_back(word);
      }
    }
    if (hard) return Verdict::Drop("hard_blacklisted");
    if (static_cast<int>(soft_hits.size()) >= l.soft_word_threshold) {
      return Verdict::Drop("soft_blacklisted");
    }
  }
  if (!l.banned_subwords.empty() && l.banned_subwords.ContainsAny(Normalize(url))) {
    return Verdict::Drop("blacklisted_subword");
  }
  return Verdict::Keep();
}

}  // namespace winnow::filters
