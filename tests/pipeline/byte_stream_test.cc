#include "pipeline/byte_stream.h"

#include <gtest/gtest.h>

namespace winnow::pipeline {
namespace {

TEST(ByteStream, ReadsALocalFileToTheEnd) {
  auto stream = OpenLocalFile(std::string(WINNOW_SHARED_DIR) +
                              "/data/commoncrawl/CC-MAIN-2024-22-whirlwind.warc.gz");
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto bytes = ReadAll(**stream);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 18857u);
}

TEST(ByteStream, MissingFileNamesThePath) {
  auto stream = OpenLocalFile("/nonexistent/x.warc");
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.status().message().find("/nonexistent/x.warc"), std::string::npos);
}

}  // namespace
}  // namespace winnow::pipeline
