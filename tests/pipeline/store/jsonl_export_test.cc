#include "pipeline/store/jsonl_export.h"

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/pipeline/store/store_test_util.h"

namespace winnow::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::MakeDoc;
using testing::RunCommand;
using testing::TempDir;

// A store in `dir`/data holding `n` documents spread over three inputs.
std::unique_ptr<ShardStore> FilledStore(const TempDir& dir, int n, int text_bytes = 0) {
  absl::StatusOr<std::unique_ptr<ShardStore>> store = ShardStore::Open(dir.Sub("data"));
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  std::mt19937 random(7);
  for (int input = 0; input < 3; ++input) {
    const std::string name = "input-" + std::to_string(input) + ".warc.gz";
    auto writer = (*store)->StartInput("CC-MAIN-2024-22", name);
    for (int i = input; i < n; i += 3) {
      std::string text;
      for (int b = 0; b < text_bytes; ++b) text += static_cast<char>('a' + random() % 26);
      Document doc = MakeDoc("CC-MAIN-2024-22", name, static_cast<uint64_t>(i) * 100, text);
      doc.metadata = {{"language", "en"}, {"language_score", 0.93}};
      writer->Add(doc);
    }
    EXPECT_TRUE(writer->Commit(Stats()).ok());
  }
  return std::move(*store);
}

std::set<std::string> FileNames(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

bool HavePython() {
  std::string out;
  return RunCommand("python3 -c 'import gzip, json' 2>/dev/null", &out) == 0;
}

TEST(JsonlExport, WritesRotatedGzipFilesThatPythonReadsBack) {
  if (!HavePython()) GTEST_SKIP() << "python3 is not available";
  TempDir dir;
  auto store = FilledStore(dir, 25);
  ASSERT_NE(store, nullptr);
  const std::string out_dir = dir.Sub("export");
  absl::StatusOr<ExportSummary> summary =
      ExportJsonl(*store, out_dir, {.max_documents_per_file = 10});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->files, 3);
  EXPECT_EQ(summary->documents, 25);
  EXPECT_GT(summary->bytes, 0);
  EXPECT_EQ(FileNames(out_dir),
            (std::set<std::string>{"00000.jsonl.gz", "00001.jsonl.gz", "00002.jsonl.gz"}));
  int64_t bytes = 0;
  for (const std::string& name : FileNames(out_dir)) {
    bytes += static_cast<int64_t>(std::filesystem::file_size(out_dir + "/" + name));
  }
  EXPECT_EQ(bytes, summary->bytes);

  const std::string script =
      "import gzip, json, glob, sys\n"
      "files = sorted(glob.glob(sys.argv[1] + '/*.jsonl.gz'))\n"
      "rows = [json.loads(l) for f in files for l in gzip.open(f, 'rt', encoding='utf-8')]\n"
      "counts = [sum(1 for _ in gzip.open(f, 'rt')) for f in files]\n"
      "m = rows[0]['metadata']\n"
      "print(len(rows), counts, sorted(rows[0].keys()), m['dump'], m['url'], m['language'],\n"
      "      m['offset'], rows[0]['id'], rows[-1]['metadata']['offset'])\n";
  std::ofstream(dir.Sub("check.py")) << script;
  std::string out;
  ASSERT_EQ(RunCommand("python3 " + dir.Sub("check.py") + " " + out_dir, &out), 0) << out;
  EXPECT_EQ(out,
            "25 [10, 10, 5] ['id', 'metadata', 'text'] CC-MAIN-2024-22 "
            "https://example.com/input-0.warc.gz/0 en 0 <urn:uuid:input-0.warc.gz-0> 2300\n");
}

TEST(JsonlExport, WritesZstdThatTheZstdToolDecompresses) {
  std::string out;
  if (RunCommand("zstd --version >/dev/null 2>&1", &out) != 0) {
    GTEST_SKIP() << "the zstd command-line tool is not installed";
  }
  TempDir dir;
  auto store = FilledStore(dir, 12);
  ASSERT_NE(store, nullptr);
  const std::string out_dir = dir.Sub("export");
  absl::StatusOr<ExportSummary> summary = ExportJsonl(
      *store, out_dir, {.max_documents_per_file = 5, .compression = ExportCompression::kZstd});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->files, 3);
  EXPECT_EQ(FileNames(out_dir),
            (std::set<std::string>{"00000.jsonl.zst", "00001.jsonl.zst", "00002.jsonl.zst"}));
  ASSERT_EQ(RunCommand("zstd -q -t " + out_dir + "/*.jsonl.zst", &out), 0);
  ASSERT_EQ(RunCommand("zstd -dc " + out_dir + "/00000.jsonl.zst", &out), 0);
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(nlohmann::json::parse(out.substr(start, end - start)));
  }
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["metadata"]["file_path"], "input-0.warc.gz");
  EXPECT_EQ(lines[0]["text"], "text of input-0.warc.gz at 0");
  ASSERT_EQ(RunCommand("zstd -dc " + out_dir + "/*.jsonl.zst | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 12);
}

TEST(JsonlExport, LeavesNoFinalNamedFileWhenWritingFails) {
  TempDir dir;
  auto store = FilledStore(dir, 40, /*text_bytes=*/8000);  // ~320 KB of incompressible-ish text
  ASSERT_NE(store, nullptr);
  store.reset();
  // Read-only: the store itself writes nothing while the file size limit holds.
  absl::StatusOr<std::unique_ptr<ShardStore>> reader =
      ShardStore::Open(dir.Sub("data"), {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::string out_dir = dir.Sub("export");
  std::filesystem::create_directories(out_dir);

  // Any write past 64 KiB fails with EFBIG, as a full disk would (root ignores permissions).
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  const sighandler_t old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  absl::StatusOr<ExportSummary> summary = ExportJsonl(**reader, out_dir, {});
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr(out_dir));
  EXPECT_TRUE(FileNames(out_dir).empty()) << *FileNames(out_dir).begin();
}

TEST(JsonlExport, ReplacesTheFilesOfAnEarlierLargerExport) {
  TempDir dir;
  auto store = FilledStore(dir, 9);
  ASSERT_NE(store, nullptr);
  const std::string out_dir = dir.Sub("export");
  ASSERT_TRUE(ExportJsonl(*store, out_dir, {.max_documents_per_file = 2}).ok());
  EXPECT_EQ(FileNames(out_dir).size(), 5u);
  std::ofstream(out_dir + "/README.md") << "mine";

  absl::StatusOr<ExportSummary> refused =
      ExportJsonl(*store, out_dir, {.max_documents_per_file = 4, .overwrite = false});
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  absl::StatusOr<ExportSummary> summary =
      ExportJsonl(*store, out_dir, {.max_documents_per_file = 4});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->files, 3);
  EXPECT_EQ(FileNames(out_dir), (std::set<std::string>{"00000.jsonl.gz", "00001.jsonl.gz",
                                                       "00002.jsonl.gz", "README.md"}));
}

TEST(JsonlExport, EmptyStoreWritesNoFiles) {
  TempDir dir;
  auto store = FilledStore(dir, 0);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<ExportSummary> summary = ExportJsonl(*store, dir.Sub("export"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->files, 0);
  EXPECT_EQ(summary->documents, 0);
  EXPECT_TRUE(FileNames(dir.Sub("export")).empty());
  EXPECT_FALSE(ExportJsonl(*store, dir.Sub("x"), {.max_documents_per_file = 0}).ok());
}

}  // namespace
}  // namespace winnow::pipeline
