// Pretraining end to end on real pages: the validation loss falls, a resumed run matches an
// uninterrupted one bit for bit, bad configs name the key, a diverged run names the step, and the
// checkpoint is a valid safetensors file. The model is `tiny` over a byte-level tokenizer (256
// byte tokens + <|endoftext|>), so a step takes milliseconds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "nlohmann/json.hpp"
#include "pipeline/run/runner.h"
#include "pipeline/store/shard_store.h"
#include "tests/util/files.h"
#include "tests/util/temp_dir.h"
#include "trainer/data/token_shards.h"
#include "trainer/model/gpt.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/data_loader.h"
#include "trainer/train/safetensors.h"
#include "trainer/train/train_config.h"
#include "trainer/train/trainer.h"

namespace winnow::trainer {
namespace {

using winnow::testing::ReadFile;
using winnow::testing::TempDir;

std::vector<nlohmann::json> ReadMetrics(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TrainConfig Parse(const std::string& yaml) {
  absl::StatusOr<TrainConfig> config = ParseTrainConfig(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : TrainConfig();
}

class TrainTest : public ::testing::Test {
 protected:
  // A curated data dir of the shared Common Crawl samples (no filters), a byte-level tokenizer,
  // and token shards of the same documents.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pipeline::RunOptions options;
    options.inputs = {std::string(WINNOW_SHARED_DIR) + "/data/commoncrawl"};
    options.data_dir = dir_->Sub("data");
    options.progress = false;
    options.threads = 2;
    pipeline::RunConfig config;
    config.store.sync_commits = false;
    std::vector<std::unique_ptr<pipeline::Filter>> filters;
    ASSERT_TRUE(pipeline::Run(options, config, filters).ok());

    tokenizer_spec_ = new std::string(winnow::testing::WriteByteTokenizer(dir_->Sub("tok")));

    auto tokenizer = Tokenizer::Load(*tokenizer_spec_);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    ASSERT_EQ((*tokenizer)->vocab_size(), 257u);
    pipeline::StoreOptions store_options;
    store_options.read_only = true;
    store_options.create_if_missing = false;
    auto store = pipeline::ShardStore::Open(dir_->Sub("data"), store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    TokenShardOptions shard_options;
    shard_options.name = "cc";
    shard_options.val_tokens = 20000;
    shard_options.tokens_per_shard = 30000;
    shard_options.threads = 2;
    auto summary = ExportTokenShards(**store, **tokenizer, dir_->Sub("shards"), shard_options);
    ASSERT_TRUE(summary.ok()) << summary.status();
    ASSERT_GE(summary->shards, 3);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete tokenizer_spec_;
  }

  // A small, fast config over the token shards.
  static std::string ShardsYaml(const std::string& extra = "") {
    return "model: tiny\nshards: " + dir_->Sub("shards") + "\ntokenizer: " + *tokenizer_spec_ +
           "\nsteps: 6\nbatch_size: 4\nseq_len: 32\ngrad_accum: 2\nlr: 0.003\nwarmup_steps: 2\n"
           "eval_every: 2\neval_batches: 2\nthreads: 2\n" +
           extra;
  }

  static TempDir* dir_;
  static std::string* tokenizer_spec_;
};

TempDir* TrainTest::dir_ = nullptr;
std::string* TrainTest::tokenizer_spec_ = nullptr;

TEST_F(TrainTest, ValidationLossFallsOnCuratedPages) {
  TempDir out;
  const TrainConfig config =
      Parse("model: tiny\ndata_dir: " + dir_->Sub("data") + "\ntokenizer: " + *tokenizer_spec_ +
            "\nsteps: 40\nbatch_size: 8\nseq_len: 64\nlr: 0.004\n"
            "warmup_steps: 4\neval_every: 20\neval_batches: 4\nthreads: 2\n");
  TrainOptions options;
  options.out_dir = out.path();
  options.progress = false;
  absl::StatusOr<TrainResult> result = Train(config, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->initial_val_loss && result->final_val_loss && result->final_val_bpb);
  std::printf("val_loss %.4f -> %.4f, val_bpb %.4f\n", *result->initial_val_loss,
              *result->final_val_loss, *result->final_val_bpb);
  // An untrained model is near uniform over 257 ids: ln 257 ≈ 5.55 nats.
  EXPECT_NEAR(*result->initial_val_loss, std::log(257.0), 0.3);
  EXPECT_LT(*result->final_val_loss, *result->initial_val_loss - 1.5)
      << "initial " << *result->initial_val_loss << " final " << *result->final_val_loss;
  // One token per byte (end-of-text aside): bits per byte ≈ loss / ln 2, a little above.
  const double bits = *result->final_val_loss / std::log(2.0);
  EXPECT_GE(*result->final_val_bpb, bits * 0.999);
  EXPECT_LT(*result->final_val_bpb, bits * 1.05);

  const std::vector<nlohmann::json> lines = ReadMetrics(out.Sub("metrics.jsonl"));
  ASSERT_EQ(lines.size(), 41u);
  EXPECT_EQ(lines[0]["step"], 0);
  EXPECT_TRUE(lines[0].contains("val_loss"));
  for (int step = 1; step <= 40; step++) {
    const nlohmann::json& line = lines[static_cast<size_t>(step)];
    EXPECT_EQ(line["step"], step);
    for (const char* key : {"loss", "lr", "tokens_per_s", "mfu", "grad_norm"}) {
      EXPECT_TRUE(line.contains(key)) << key << " at step " << step;
    }
    EXPECT_EQ(line.contains("val_loss"), step % 20 == 0) << step;
    EXPECT_EQ(line["mfu"], 0.0);  // no peak_tflops configured
  }
  EXPECT_FLOAT_EQ(lines[4]["lr"].get<double>(), 0.004);      // warmup done
  EXPECT_NEAR(lines[40]["lr"].get<double>(), 0.0004, 1e-9);  // decayed to lr·min_lr_ratio
  EXPECT_TRUE(std::filesystem::exists(out.Sub("checkpoints/step_000040/model.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(out.Sub("config.yaml")));
}

TEST_F(TrainTest, ResumedRunMatchesAnUninterruptedOneBitForBit) {
  const TrainConfig config = Parse(ShardsYaml("checkpoint_every: 3\n"));
  TempDir straight, resumed;
  TrainOptions options;
  options.progress = false;
  options.out_dir = straight.path();
  absl::StatusOr<TrainResult> full = Train(config, options);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->losses.size(), 6u);

  options.out_dir = resumed.path();
  options.stop_at_step = 3;
  absl::StatusOr<TrainResult> first = Train(config, options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.stop_at_step = 0;
  // Without --resume an output that holds checkpoints is refused.
  absl::StatusOr<TrainResult> refused = Train(config, options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  options.resume = true;
  absl::StatusOr<TrainResult> second = Train(config, options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->first_step, 4);
  EXPECT_EQ(second->last_step, 6);

  std::vector<float> losses = first->losses;
  losses.insert(losses.end(), second->losses.begin(), second->losses.end());
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_EQ(std::memcmp(losses.data(), full->losses.data(), 6 * sizeof(float)), 0);
  for (size_t i = 0; i < 6; i++) EXPECT_EQ(losses[i], full->losses[i]) << "step " << i + 1;
  EXPECT_EQ(second->final_val_loss, full->final_val_loss);
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    const std::string a = ReadFile(straight.Sub("checkpoints/step_000006/") + file);
    const std::string b = ReadFile(resumed.Sub("checkpoints/step_000006/") + file);
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == b) << file << " differs";
  }
  // metrics.jsonl of the resumed run: steps 0…6 once each, the same losses.
  const std::vector<nlohmann::json> a = ReadMetrics(straight.Sub("metrics.jsonl"));
  const std::vector<nlohmann::json> b = ReadMetrics(resumed.Sub("metrics.jsonl"));
  ASSERT_EQ(a.size(), 7u);
  ASSERT_EQ(b.size(), 7u);
  for (size_t i = 1; i < 7; i++) {
    EXPECT_EQ(b[i]["step"], static_cast<int>(i));
    EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << i;
  }
  // keep_checkpoints (3): steps 3 and 6 remain in both.
  EXPECT_TRUE(std::filesystem::exists(resumed.Sub("checkpoints/step_000003/state.json")));
  auto latest = LatestCheckpoint(resumed.path());
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(std::filesystem::path(*latest).filename(), "step_000006");
  // Resuming a finished run does nothing.
  absl::StatusOr<TrainResult> done = Train(config, options);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->losses.empty());
}

TEST_F(TrainTest, ALongDataDirStreamWaitsOnDiskInPartsAndResumesBitForBit) {
  const std::string base = "model: tiny\ndata_dir: " + dir_->Sub("data") +
                           "\ntokenizer: " + *tokenizer_spec_ +
                           "\nsteps: 6\nbatch_size: 4\nseq_len: 32\neval_every: 3\n"
                           "eval_batches: 2\ncheckpoint_every: 3\nthreads: 2\n"
                           // a validation split longer than the tail: parts are read back for it
                           "val_fraction: 0.45\n";
  const TrainConfig whole = Parse(base);
  const TrainConfig parts = Parse(base + "data_part_tokens: 8192\n");
  TempDir in_memory, straight, resumed;
  TrainOptions options;
  options.progress = false;
  options.out_dir = in_memory.path();
  absl::StatusOr<TrainResult> reference = Train(whole, options);
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_FALSE(std::filesystem::exists(in_memory.Sub("token-cache")));  // one part, in memory

  options.out_dir = straight.path();
  absl::StatusOr<TrainResult> full = Train(parts, options);
  ASSERT_TRUE(full.ok()) << full.status();
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(straight.Sub("token-cache"))) {
    ASSERT_TRUE(ReadTokenShard(entry.path().string()).ok()) << entry.path();
    EXPECT_EQ(ReadTokenShard(entry.path().string())->size(), 8192u);
    ++files;
  }
  EXPECT_GE(files, 2);
  // The validation split is the stream's tail either way: the same untrained loss.
  EXPECT_EQ(full->initial_val_loss, reference->initial_val_loss);

  options.out_dir = resumed.path();
  options.stop_at_step = 3;
  ASSERT_TRUE(Train(parts, options).ok());
  options.stop_at_step = 0;
  options.resume = true;
  absl::StatusOr<TrainResult> second = Train(parts, options);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->losses.size(), 3u);
  for (size_t i = 0; i < 3; i++) EXPECT_EQ(second->losses[i], full->losses[i + 3]) << i;
  EXPECT_EQ(second->final_val_loss, full->final_val_loss);
  EXPECT_TRUE(ReadFile(straight.Sub("checkpoints/step_000006/model.safetensors")) ==
              ReadFile(resumed.Sub("checkpoints/step_000006/model.safetensors")));
}

TEST_F(TrainTest, KeepsOnlyTheNewestCheckpoints) {
  TempDir out;
  TrainOptions options;
  options.progress = false;
  options.out_dir = out.path();
  ASSERT_TRUE(
      Train(Parse(ShardsYaml("checkpoint_every: 1\nkeep_checkpoints: 2\neval_every: 0\n")), options)
          .ok());
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(out.Sub("checkpoints"))) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"step_000005", "step_000006"}));
}

TEST_F(TrainTest, DivergenceStopsNamingTheStep) {
  TempDir out;
  TrainOptions options;
  options.progress = false;
  options.out_dir = out.path();
  absl::StatusOr<TrainResult> result =
      Train(Parse(ShardsYaml("lr: 1.0e30\nwarmup_steps: 0\ngrad_clip: 0\n")), options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();
  EXPECT_NE(result.status().message().find("step "), std::string::npos) << result.status();
  EXPECT_NE(result.status().message().find("diverged"), std::string::npos) << result.status();
}

TEST_F(TrainTest, CheckpointIsAValidSafetensorsFile) {
  TempDir out;
  TrainOptions options;
  options.progress = false;
  options.out_dir = out.path();
  options.stop_at_step = 1;
  ASSERT_TRUE(Train(Parse(ShardsYaml("eval_every: 0\n")), options).ok());
  const std::string bytes = ReadFile(out.Sub("checkpoints/step_000001/model.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  ASSERT_LE(n + 8, bytes.size());
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["__metadata__"]["format"], "pt");
  absl::StatusOr<GptConfig> model = GptPreset("tiny", 257);
  ASSERT_TRUE(model.ok());
  const std::vector<GptTensorInfo> layout = GptLayout(*model);
  EXPECT_EQ(header.size(), layout.size() + 1);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const GptTensorInfo& t : layout) {
    const nlohmann::json& entry = header[std::string(t.name)];
    EXPECT_EQ(entry["dtype"], "F32") << t.name;
    EXPECT_EQ(entry["shape"].get<std::vector<int>>(), t.shape) << t.name;
    const uint64_t begin = entry["data_offsets"][0], end = entry["data_offsets"][1];
    EXPECT_EQ(end - begin, t.size * 4) << t.name;
    ranges.emplace_back(begin, end);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t expected = 0;
  for (const auto& [begin, end] : ranges) {
    EXPECT_EQ(begin, expected);
    expected = end;
  }
  EXPECT_EQ(expected, bytes.size() - 8 - n);
  // Our reader agrees, and a loaded model holds the same weights.
  absl::StatusOr<SafetensorsFile> file =
      ReadSafetensors(out.Sub("checkpoints/step_000001/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata["format"], "pt");
  absl::StatusOr<Gpt> gpt = Gpt::Create(*model, 1);
  ASSERT_TRUE(gpt.ok());
  ASSERT_TRUE(LoadCheckpointModel(out.Sub("checkpoints/step_000001"), *gpt).ok());
  const SafetensorsTensor* wpe = file->Find("wpe");
  ASSERT_NE(wpe, nullptr);
  EXPECT_EQ(std::memcmp(wpe->data.data(), gpt->param_tensors().wpe, wpe->data.size() * 4), 0);
  // A truncated file is reported, not misread.
  std::ofstream(out.Sub("cut.safetensors"), std::ios::binary) << bytes.substr(0, bytes.size() - 4);
  EXPECT_EQ(ReadSafetensors(out.Sub("cut.safetensors")).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(TrainConfig, RejectsBadKeysAndValuesNamingTheKey) {
  const std::string base = "data_dir: /tmp/x\n";
  struct Case {
    std::string yaml;
    std::string needle;
  };
  const Case cases[] = {
      {base + "lerning_rate: 0.1\n", "lerning_rate"},
      {base + "steps: 0\n", "steps"},
      {base + "lr: fast\n", "lr"},
      {base + "lr: -1\n", "lr"},
      {base + "batch_size: [1, 2]\n", "batch_size"},
      {base + "seq_len: 65\n", "seq_len"},  // tiny's context is 64
      {base + "model: gpt5\n", "model"},
      {base + "model: {layers: 2, heads: 3, channels: 64, context: 32}\n", "model.channels"},
      {base + "model: {layers: 2, heads: 2, channels: 64}\n", "model.context"},
      {base + "model: {layers: 2, heads: 2, channels: 64, context: 32, depth: 3}\n", "model.depth"},
      {base + "mode: sft\n", "not in this build yet"},
      {base + "mode: pretraining\n", "mode"},
      {base + "shards: /tmp/y\n", "exactly one"},
      {"steps: 10\n", "data_dir"},
      {base + "val_fraction: 0.9\n", "val_fraction"},
      {base + "warmup_steps: 2000\n", "warmup_steps"},
      {base + "min_lr_ratio: 2\n", "min_lr_ratio"},
      {base + "shuffle: maybe\n", "shuffle"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TrainConfig> config = ParseTrainConfig(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(config.status().message().find(c.needle), std::string::npos)
        << c.yaml << " → " << config.status();
  }
  absl::StatusOr<TrainConfig> good = ParseTrainConfig(
      base + "model: {layers: 1, heads: 2, channels: 32, context: 16}\nsteps: 5\n");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->seq_len, 16);  // defaults to the context
  EXPECT_EQ(good->tokenizer, "gpt2");
}

TEST_F(TrainTest, ConfigThatDoesNotFitTheDataNamesTheKey) {
  TempDir out;
  TrainOptions options;
  options.progress = false;
  options.out_dir = out.path();
  absl::StatusOr<TrainResult> missing =
      Train(Parse("data_dir: " + out.Sub("nothing") + "\nsteps: 1\n"), options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("data_dir"), std::string::npos) << missing.status();
  absl::StatusOr<TrainResult> small_vocab = Train(Parse(ShardsYaml("vocab_size: 100\n")), options);
  EXPECT_EQ(small_vocab.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(small_vocab.status().message().find("vocab_size"), std::string::npos)
      << small_vocab.status();
}

TEST(DataLoader, VisitsEveryWindowOncePerEpochAndRestoresItsPosition) {
  // Three parts of 33, 17 and 1 tokens with T = 4: 8 + 4 + 0 windows.
  auto part = [](uint32_t first, int n) {
    auto tokens = std::make_shared<std::vector<uint32_t>>();
    for (int i = 0; i < n; i++) tokens->push_back(first + static_cast<uint32_t>(i));
    return TokenPart{tokens, ""};
  };
  const std::vector<TokenPart> parts = {part(0, 33), part(1000, 17), part(5000, 1)};
  auto loader = DataLoader::Create(parts, 3, 4, 7, true);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->windows_per_epoch(), 12);
  std::vector<int> inputs, targets;
  std::multiset<int> starts;
  for (int batch = 0; batch < 4; batch++) {  // 12 windows: exactly one epoch
    ASSERT_TRUE((*loader)->Next(&inputs, &targets).ok());
    for (int b = 0; b < 3; b++) {
      starts.insert(inputs[b * 4]);
      for (int t = 0; t < 4; t++) EXPECT_EQ(targets[b * 4 + t], inputs[b * 4 + t] + 1);
    }
  }
  EXPECT_EQ(starts, (std::multiset<int>{0, 4, 8, 12, 16, 20, 24, 28, 1000, 1004, 1008, 1012}));
  // Save, draw, restore into a fresh loader: the same batches.
  const DataLoaderState saved = (*loader)->state();
  std::vector<std::vector<int>> drawn;
  for (int i = 0; i < 5; i++) {
    ASSERT_TRUE((*loader)->Next(&inputs, &targets).ok());
    drawn.push_back(inputs);
  }
  auto again = DataLoader::Create(parts, 3, 4, 7, true);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Restore(saved).ok());
  for (int i = 0; i < 5; i++) {
    ASSERT_TRUE((*again)->Next(&inputs, &targets).ok());
    EXPECT_EQ(inputs, drawn[i]) << i;
  }
  // Another seed, another order; no shuffle, the stream in order.
  auto other = DataLoader::Create(parts, 3, 4, 8, true);
  auto plain = DataLoader::Create(parts, 3, 4, 7, false);
  ASSERT_TRUE(other.ok() && plain.ok());
  std::vector<int> other_inputs;
  ASSERT_TRUE((*other)->Next(&other_inputs, &targets).ok());
  ASSERT_TRUE((*plain)->Next(&inputs, &targets).ok());
  EXPECT_EQ(inputs[0], 0);
  EXPECT_EQ(inputs[4], 4);
  EXPECT_EQ(inputs[8], 8);
  EXPECT_FALSE(DataLoader::Create({part(0, 4)}, 1, 4, 1, true).ok());  // no window of 5 tokens
}

TEST(LearningRate, WarmsUpThenDecaysByCosineToTheFloor) {
  TrainConfig c;
  c.lr = 1.0;
  c.steps = 12;
  c.warmup_steps = 1;
  c.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 1), 1.0);
  EXPECT_NEAR(LearningRate(c, 6), 0.55, 1e-12);
  EXPECT_NEAR(LearningRate(c, 11), 0.1, 1e-12);
  c.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.25);
  EXPECT_DOUBLE_EQ(LearningRate(c, 3), 1.0);
}

}  // namespace
}  // namespace winnow::trainer
