#include "pipeline/stats.h"

#include <gtest/gtest.h>

#include "pipeline/document.h"

namespace winnow::pipeline {
namespace {

TEST(Stats, MergingPartsGivesTheWhole) {
  Stats whole, a, b;
  const double values[] = {3, 1, 4, 1, 5, 9, 2, 6};
  for (int i = 0; i < 8; ++i) {
    whole.Add("read/records");
    whole.Observe("extract/chars", values[i]);
    Stats& part = i < 3 ? a : b;
    part.Add("read/records");
    part.Observe("extract/chars", values[i]);
  }
  a.Add("read/damaged/truncated_gzip", 2);
  whole.Add("read/damaged/truncated_gzip", 2);
  a.Merge(b);
  EXPECT_EQ(a.Count("read/records"), 8);
  EXPECT_EQ(a.Count("read/damaged/truncated_gzip"), 2);
  const Summary& s = a.summaries().at("extract/chars");
  const Summary& w = whole.summaries().at("extract/chars");
  EXPECT_EQ(s.count, 8);
  EXPECT_DOUBLE_EQ(s.mean, w.mean);
  EXPECT_NEAR(s.variance(), w.variance(), 1e-9);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 9);
}

TEST(Stats, CountPrefixSumsOneStage) {
  Stats s;
  s.Add("read/damaged/a", 2);
  s.Add("read/damaged/b", 3);
  s.Add("read/records", 7);
  EXPECT_EQ(s.CountPrefix("read/damaged/"), 5);
  EXPECT_EQ(s.CountPrefix("nothing/"), 0);
}

TEST(Stats, JsonRoundTrip) {
  Stats s;
  s.Add("x/y", 4);
  s.Observe("z", 2.5);
  Stats back = Stats::FromJson(s.ToJson());
  EXPECT_EQ(back.Count("x/y"), 4);
  EXPECT_EQ(back.summaries().at("z").count, 1);
  EXPECT_DOUBLE_EQ(back.summaries().at("z").mean, 2.5);
}

TEST(DocumentKey, EncodingSortsBySnapshotInputOffset) {
  DocumentKey a{"CC-MAIN-2024-22", "a.warc.gz", 300};
  DocumentKey b{"CC-MAIN-2024-22", "a.warc.gz", 1000};
  DocumentKey c{"CC-MAIN-2024-22", "ab.warc.gz", 0};
  EXPECT_LT(a.Encode(), b.Encode());
  EXPECT_LT(b.Encode(), c.Encode());
  DocumentKey back;
  ASSERT_TRUE(DocumentKey::Decode(b.Encode(), &back));
  EXPECT_EQ(back.snapshot, b.snapshot);
  EXPECT_EQ(back.input, b.input);
  EXPECT_EQ(back.offset, 1000u);
}

}  // namespace
}  // namespace winnow::pipeline
