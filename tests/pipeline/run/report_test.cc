#include "pipeline/run/report.h"

#include <gtest/gtest.h>

namespace winnow::pipeline {
namespace {

TEST(Report, ShowsEachFilterWithKeptDroppedAndReasonsInChainOrder) {
  Stats s;
  s.Add("read/records", 10);
  s.Add("read/skipped/request", 4);
  s.Add("extract/dropped/not_html", 1);
  s.Add("url/kept", 5);
  s.Add("url/dropped/domain", 0);
  s.Add("extract/kept", 5);
  s.Add("language/kept", 3);
  s.Add("language/dropped/fr", 2);
  s.Add("gopher_quality/kept", 2);
  s.Add("gopher_quality/dropped/gopher_short_doc", 1);
  s.Add("write/kept", 2);
  const std::string out =
      FormatSummary({{"a.warc.gz", s}}, s, {"url", "language", "gopher_quality"});
  const size_t url = out.find("\nurl ");
  const size_t language = out.find("\nlanguage ");
  const size_t gopher = out.find("\ngopher_quality ");
  ASSERT_NE(url, std::string::npos) << out;
  ASSERT_NE(language, std::string::npos) << out;
  ASSERT_NE(gopher, std::string::npos) << out;
  EXPECT_LT(url, language);
  EXPECT_LT(language, gopher);
  EXPECT_NE(out.find("gopher_short_doc"), std::string::npos) << out;
  EXPECT_NE(out.find("  fr "), std::string::npos) << out;
  const Outcomes o = OutcomesOf(s);
  EXPECT_EQ(o.filtered, 3);
  EXPECT_EQ(o.skipped + o.dropped + o.filtered + o.kept, o.records);
}

}  // namespace
}  // namespace winnow::pipeline
