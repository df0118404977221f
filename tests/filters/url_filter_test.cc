#include "filters/url_filter.h"

#include <zlib.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "filters/internal/aho_corasick.h"
#include "filters/internal/url_parts.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/filters/reference_data.h"
#include "tests/util/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace winnow::filters {
namespace {

using reference::DatatroveCases;
using reference::DatatroveGolden;

using pipeline::Document;
using pipeline::Verdict;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

YAML::Node JsonToYaml(const nlohmann::json& j) {
  if (j.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, value] : j.items()) map[key] = JsonToYaml(value);
    return map;
  }
  if (j.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& value : j) list.push_back(JsonToYaml(value));
    return list;
  }
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  if (j.is_null()) return YAML::Node();
  return YAML::Node(j.dump());  // numbers and booleans as their text, read back by the binder
}

// The reference's default: the integrated word lists, plus `extra`.
std::unique_ptr<UrlFilter> MakeFilter(UrlFilterOptions options = {}) {
  SetDefaultDataPaths(kData, &options);
  auto filter = UrlFilter::Create(options);
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() ? std::move(*filter) : nullptr;
}

std::string Reason(const Verdict& v) { return v.kept ? "kept" : v.reason; }

void WriteFile(const std::string& path, const std::string& text, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
  } else {
    std::ofstream(path) << text;
  }
}

TEST(UrlFilter, PassesDatatroveCases) {
  const std::vector<nlohmann::json> cases = DatatroveCases("url");
  ASSERT_EQ(cases.size(), 8u);
  for (const nlohmann::json& c : cases) {
    UrlFilterOptions options;
    ParamBinder binder("url");
    BindParams(&options, &binder);
    ASSERT_TRUE(binder.Apply(JsonToYaml(c["params"]), "case").ok());
    auto filter = MakeFilter(options);
    Document doc;
    doc.url = c["url"];
    doc.text = c["text"];
    const Verdict v = filter->Check(&doc);
    EXPECT_EQ(v.kept, c["expected_kept"].get<bool>()) << c["case"];
    if (!c["expected_reason"].is_null()) {
      EXPECT_EQ(v.reason, c["expected_reason"]) << c["case"];
    }
  }
}

TEST(UrlFilter, MatchesDatatroveOnRealUrls) {
  // Reference decisions (URLFilter with the three word lists) for every URL of the golden file.
  gzFile f =
      gzopen((std::string(WINNOW_SOURCE_DIR) + "/tests/filters/testdata/datatrove_golden.jsonl.gz")
                 .c_str(),
             "rb");
  if (f == nullptr) GTEST_SKIP() << "no golden file";
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, n);
  gzclose(f);
  auto filter = MakeFilter();
  size_t checked = 0;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    const nlohmann::json d = nlohmann::json::parse(data.substr(start, end - start));
    start = end + 1;
    if (!d.contains("url") || !d["decisions"].contains("url")) continue;
    const nlohmann::json& want = d["decisions"]["url"];
    const Verdict v = filter->CheckUrl(d["url"].get<std::string>());
    ASSERT_EQ(v.kept, want["kept"].get<bool>()) << d["url"];
    if (!v.kept) {
      ASSERT_EQ(v.reason, want["reason"]) << d["url"];
    }
    ++checked;
  }
  EXPECT_GT(checked, 5000u);
}

TEST(UrlFilter, RegisteredDomainFollowsIcannSuffixesOnly) {
  using internal::ParseUrlHost;
  // blogspot.com is a private-section suffix: tldextract's default ignores it.
  EXPECT_EQ(ParseUrlHost("http://foo.blogspot.com/x").registered_domain, "blogspot.com");
  EXPECT_EQ(ParseUrlHost("http://foo.blogspot.com/x").fqdn, "foo.blogspot.com");
  EXPECT_EQ(ParseUrlHost("a.b.co.uk").registered_domain, "b.co.uk");
  EXPECT_EQ(ParseUrlHost("ftp://x.y.github.io").registered_domain, "github.io");
  EXPECT_EQ(ParseUrlHost("http://user:pw@WWW.Example.COM:8080/a?b#c").registered_domain,
            "example.com");
  EXPECT_EQ(ParseUrlHost("http://user:pw@WWW.Example.COM:8080/a?b#c").fqdn, "www.example.com");
  EXPECT_EQ(ParseUrlHost("https://example.com./").fqdn, "example.com");
  EXPECT_EQ(ParseUrlHost("https://.example.com/").fqdn, "example.com");
  EXPECT_EQ(ParseUrlHost("https://a..example.com/").fqdn, "a..example.com");
  // Wildcard and exception rules (*.kawasaki.jp, !city.kawasaki.jp).
  EXPECT_EQ(ParseUrlHost("http://www.test.kawasaki.jp/").registered_domain, "www.test.kawasaki.jp");
  EXPECT_EQ(ParseUrlHost("http://city.kawasaki.jp").registered_domain, "city.kawasaki.jp");
  // No suffix: unknown TLDs, IP addresses, a bare suffix.
  EXPECT_EQ(ParseUrlHost("https://blocke.dcom/x").registered_domain, "");
  EXPECT_EQ(ParseUrlHost("https://blocke.dcom/x").fqdn, "");
  EXPECT_EQ(ParseUrlHost("http://127.0.0.1/").registered_domain, "");
  EXPECT_EQ(ParseUrlHost("http://[::1]/a").registered_domain, "");
  EXPECT_EQ(ParseUrlHost("http://co.uk/").registered_domain, "");
  EXPECT_EQ(ParseUrlHost("http://..com/").registered_domain, "");
  EXPECT_EQ(ParseUrlHost("").host, "");
}

TEST(UrlFilter, DomainBeforeSubdomainBeforeUrl) {
  UrlFilterOptions options;
  options.extra_domains = {"blocked.com", "bad.nice.com"};
  options.extra_urls = {"https://nice.com/page", "nice.org/page"};
  auto filter = MakeFilter(options);
  EXPECT_EQ(Reason(filter->CheckUrl("https://bad.nice.com/page")), "subdomain");
  EXPECT_EQ(Reason(filter->CheckUrl("https://x.blocked.com/page")), "domain");
  EXPECT_EQ(Reason(filter->CheckUrl("https://nice.com/page")), "url");
  EXPECT_EQ(Reason(filter->CheckUrl("https://nice.com/page/")), "kept");
  // The reference compares URLs as they are; UT1's list has no scheme.
  EXPECT_EQ(Reason(filter->CheckUrl("https://nice.org/page")), "kept");
  options.match_urls_without_scheme = true;
  EXPECT_EQ(Reason(MakeFilter(options)->CheckUrl("https://nice.org/page")), "url");
}

TEST(UrlFilter, DomainEntriesAndHostsCompareLowerCased) {
  UrlFilterOptions options;
  options.extra_domains = {"  Blocked.COM "};
  auto filter = MakeFilter(options);
  EXPECT_EQ(Reason(filter->CheckUrl("https://WWW.blocked.com/")), "domain");
}

TEST(UrlFilter, HardBannedWordIsAWholeUrlWord) {
  UrlFilterOptions options;
  options.use_integrated_lists = false;
  options.banned_words = {"Bad-Word"};  // normalised to "badword"
  auto filter = MakeFilter(options);
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/badword/1")), "hard_blacklisted");
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/a-badword.html")), "hard_blacklisted");
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/badwords")), "kept");
  // URL words keep their case; the lists are lower-case.
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/BADWORD")), "kept");
}

TEST(UrlFilter, SoftBannedNeedsThresholdDistinctWords) {
  UrlFilterOptions options;
  options.use_integrated_lists = false;
  options.soft_banned_words = {"hot", "girls"};
  auto filter = MakeFilter(options);
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/hot/hot/hot")), "kept");
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/hot-girls")), "soft_blacklisted");
  options.soft_word_threshold = 3;
  EXPECT_EQ(Reason(MakeFilter(options)->CheckUrl("http://x.com/hot-girls")), "kept");
  options.soft_word_threshold = 0;
  EXPECT_FALSE(UrlFilter::Create(options).ok());
}

TEST(UrlFilter, SubwordMatchesNormalisedUrl) {
  UrlFilterOptions options;
  options.use_integrated_lists = false;
  options.banned_subwords = {"2 girls 1 cup"};
  auto filter = MakeFilter(options);
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/the-2-Girls_1.cup")), "blacklisted_subword");
  EXPECT_EQ(Reason(filter->CheckUrl("http://x.com/2-girls")), "kept");
}

TEST(UrlFilter, IntegratedListsCanBeSwitchedOff) {
  const std::string url = "http://example.com/porn";  // "porn" is in banned_words.txt
  EXPECT_FALSE(MakeFilter()->CheckUrl(url).kept);
  UrlFilterOptions options;
  options.use_integrated_lists = false;
  EXPECT_TRUE(MakeFilter(options)->CheckUrl(url).kept);
}

TEST(UrlFilter, LoadsPlainAndGzipBlocklistsSkippingComments) {
  testing::TempDir dir;
  WriteFile(dir.Sub("domains.gz"), "# comment\nevil.com\r\n\n#good.com\nsub.mixed.org", true);
  WriteFile(dir.Sub("urls.txt"), "http://a.com/x\n# http://a.com/y\n", false);
  UrlFilterOptions options;
  options.use_integrated_lists = false;
  options.domain_blocklist_files = {dir.Sub("domains.gz")};
  options.url_blocklist_files = {dir.Sub("urls.txt")};
  auto filter = MakeFilter(options);
  EXPECT_EQ(filter->num_blocked_domains(), 2u);
  EXPECT_EQ(filter->num_blocked_urls(), 1u);
  EXPECT_EQ(Reason(filter->CheckUrl("http://www.evil.com/")), "domain");
  EXPECT_EQ(Reason(filter->CheckUrl("http://good.com/")), "kept");
  EXPECT_EQ(Reason(filter->CheckUrl("http://sub.mixed.org/")), "subdomain");
  EXPECT_EQ(Reason(filter->CheckUrl("http://a.com/x")), "url");
  EXPECT_EQ(Reason(filter->CheckUrl("http://a.com/y")), "kept");
}

TEST(UrlFilter, MissingListFileIsAnErrorNamingThePath) {
  UrlFilterOptions options;
  options.domain_blocklist_files = {"/nonexistent/domains.txt"};
  auto filter = UrlFilter::Create(options);
  ASSERT_FALSE(filter.ok());
  EXPECT_NE(filter.status().message().find("/nonexistent/domains.txt"), std::string::npos);
  UrlFilterOptions words;
  words.banned_words_file = "/nonexistent/banned_words.txt";
  filter = UrlFilter::Create(words);
  ASSERT_FALSE(filter.ok());
  EXPECT_NE(filter.status().message().find("banned_words.txt"), std::string::npos);
  // Without the integrated lists the word-list files are not read at all.
  words.use_integrated_lists = false;
  EXPECT_TRUE(UrlFilter::Create(words).ok());
}

TEST(UrlFilter, LargeBlocklistsStayFast) {
  testing::TempDir dir;
  std::string domains, subwords;
  for (int i = 0; i < 100000; ++i) {
    domains += "site" + std::to_string(i) + ".net\n";
    subwords += "zq" + std::to_string(i * 7919) + "x\n";
  }
  WriteFile(dir.Sub("domains.gz"), domains, true);
  WriteFile(dir.Sub("subwords.txt"), subwords, false);
  UrlFilterOptions options;
  options.domain_blocklist_files = {dir.Sub("domains.gz")};
  options.banned_subwords_file = dir.Sub("subwords.txt");
  auto filter = MakeFilter(options);
  ASSERT_EQ(filter->num_blocked_domains(), 100000u);
  EXPECT_EQ(Reason(filter->CheckUrl("https://www.site99999.net/a")), "domain");
  EXPECT_EQ(Reason(filter->CheckUrl("https://ok.org/ZQ" + std::to_string(500 * 7919) + "X")),
            "blacklisted_subword");
  const auto begin = std::chrono::steady_clock::now();
  int kept = 0;
  for (int i = 0; i < 20000; ++i) {
    kept += filter
                ->CheckUrl("https://www.page" + std::to_string(i) +
                           ".example.org/some/long/path/with-words?and=query&more=stuff")
                .kept;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  EXPECT_EQ(kept, 20000);
  EXPECT_LT(seconds, 2.0);  // ~10 µs per URL at most, whatever the list sizes
}

TEST(UrlFilter, BadInputGetsADecision) {
  auto filter = MakeFilter();
  Document empty;
  EXPECT_TRUE(filter->Check(&empty).kept);
  EXPECT_TRUE(filter->CheckUrl("").kept);
  EXPECT_TRUE(filter->CheckUrl("://///???###").kept);
  EXPECT_TRUE(filter->CheckUrl("http://\xff\xfe\x80.com/\xc3(").kept);
  const std::string long_url = "http://" + std::string(1 << 20, 'a') + ".com/" +
                               std::string(1 << 20, '/') + std::string(1 << 20, 'b');
  EXPECT_TRUE(filter->CheckUrl(long_url).kept);
  std::string many_labels = "http://";
  for (int i = 0; i < 200000; ++i) many_labels += "ab.";
  EXPECT_TRUE(filter->CheckUrl(many_labels + "com/").kept);
  std::string many_words = "http://x.com/";
  for (int i = 0; i < 1000000; ++i) many_words += "w-";
  EXPECT_TRUE(filter->CheckUrl(many_words).kept);
  EXPECT_FALSE(filter->CheckUrl(many_words + "porn").kept);
}

TEST(UrlFilter, ReadsUrlFromMetadataWhenDocumentHasNone) {
  auto filter = MakeFilter();
  Document doc;
  doc.metadata["url"] = "http://example.com/porn";
  EXPECT_EQ(Reason(filter->Check(&doc)), "hard_blacklisted");
  EXPECT_TRUE(filter->UrlOnly());
  EXPECT_EQ(filter->name(), "url");
}

TEST(UrlFilter, BindsEveryOptionUnderItsReferenceName) {
  UrlFilterOptions options;
  ParamBinder binder("url");
  BindParams(&options, &binder);
  for (const char* name : {"soft_word_threshold", "extra_domains", "extra_urls", "banned_words",
                           "banned_subwords", "soft_banned_words", "use_integrated_lists"}) {
    EXPECT_TRUE(binder.Has(name)) << name;
  }
  ASSERT_TRUE(binder.Set("extra_domains", "a.com,b.com", "test").ok());
  EXPECT_EQ(options.extra_domains, (std::vector<std::string>{"a.com", "b.com"}));
}

TEST(AhoCorasick, FindsEveryOverlappingOccurrence) {
  internal::AhoCorasick ac({"he", "she", "his", "hers", ""}, /*fold_ascii_case=*/true);
  std::vector<std::string> found;
  const std::string text = "uSHErs";
  ac.ForEachMatch(text, [&](size_t p, size_t begin, size_t end) {
    found.push_back(std::to_string(p) + ":" + text.substr(begin, end - begin));
    return true;
  });
  EXPECT_EQ(found, (std::vector<std::string>{"1:SHE", "0:HE", "3:HErs"}));
  EXPECT_TRUE(ac.ContainsAny("xxhisxx"));
  EXPECT_FALSE(ac.ContainsAny("xxhxixsx"));
  EXPECT_FALSE(internal::AhoCorasick().ContainsAny("anything"));
}

}  // namespace
}  // namespace winnow::filters
