#include "trainer/train/trainer.h"

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numbers>
#include <span>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "pipeline/store/shard_store.h"
#include "trainer/data/token_shards.h"
#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"
#include "trainer/tokenizer/tokenizer.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/data_loader.h"
#if WINNOW_HAVE_CUDA
#include "trainer/cuda/cuda_gpt.h"
#endif

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;

absl::Status ConfigError(absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("train config: ", key, ": ", why));
}

// The token streams and what is known about their vocabulary.
struct TrainData {
  std::vector<TokenPart> train;
  std::vector<uint32_t> val;
  int vocab_size = 0;
  std::unique_ptr<Tokenizer> tokenizer;  // null: no val_bpb
  std::string tokenizer_spec;
  int64_t eot = -1;
};

// A curated data dir: documents in key order, end-of-text before each, encoded on all threads;
// the last val_fraction of the stream is the validation split. Memory stays bounded: whenever two
// parts' worth (data_part_tokens each) is waiting, the first is written to cache_dir as a token
// shard; at the end the validation split is cut from the tail (reading parts back as needed), and
// what is left of the tail is the last training part, in memory. A stream shorter than two parts
// is one in-memory part, as it always was.
absl::Status LoadDataDir(const TrainConfig& config, const std::string& cache_dir, bool progress,
                         TrainData* data) {
  pipeline::StoreOptions store_options;
  store_options.read_only = true;
  store_options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<pipeline::ShardStore>> store =
      pipeline::ShardStore::Open(config.data_dir, store_options);
  if (!store.ok()) return ConfigError("data_dir", store.status().message());
  const Tokenizer& tokenizer = *data->tokenizer;
  if (!tokenizer.eot()) {
    return ConfigError("tokenizer", absl::StrCat(config.tokenizer, " has no <|endoftext|>"));
  }
  const uint32_t eot = *tokenizer.eot();
  data->eot = eot;
  // Parts of an earlier run (or attempt) are stale: the same data gives the same parts again.
  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  const size_t part = static_cast<size_t>(config.data_part_tokens);
  std::vector<std::string> written;  // the parts on disk, in stream order
  std::vector<uint32_t> stream;      // the tail not written yet
  int64_t total = 0;
  std::vector<std::string> texts;
  int64_t documents = 0;
  absl::Status status;
  auto flush = [&] {
    std::vector<std::vector<TokenId>> encoded(texts.size());
    tbb::parallel_for(size_t{0}, texts.size(),
                      [&](size_t i) { encoded[i] = tokenizer.EncodeOrdinary(texts[i]); });
    for (const std::vector<TokenId>& ids : encoded) {
      stream.push_back(eot);
      stream.insert(stream.end(), ids.begin(), ids.end());
      total += static_cast<int64_t>(ids.size()) + 1;
    }
    texts.clear();
    while (status.ok() && stream.size() >= 2 * part) {
      if (written.empty()) fs::create_directories(cache_dir, ec);
      const std::string path =
          (fs::path(cache_dir) / absl::StrFormat("part_%06d.bin", written.size())).string();
      status = WriteTokenShard(path, std::span<const uint32_t>(stream.data(), part));
      written.push_back(path);
      stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(part));
    }
  };
  absl::Status read = (*store)->ForEachDocument([&](const pipeline::Document& doc) {
    texts.push_back(doc.text);
    ++documents;
    if (texts.size() >= 4096) flush();
    return status.ok();
  });
  if (!read.ok()) return read;
  flush();
  if (!status.ok()) return status;
  // The validation split: the last n_val tokens, from the tail and, if it is longer, the parts.
  const size_t n_val =
      static_cast<size_t>(std::ceil(config.val_fraction * static_cast<double>(total)));
  while (stream.size() < n_val && !written.empty()) {
    absl::StatusOr<std::vector<uint32_t>> back = ReadTokenShard(written.back());
    if (!back.ok()) return back.status();
    fs::remove(written.back(), ec);
    written.pop_back();
    back->insert(back->end(), stream.begin(), stream.end());
    stream = std::move(*back);
  }
  data->val.assign(stream.end() - static_cast<std::ptrdiff_t>(n_val), stream.end());
  stream.resize(stream.size() - n_val);
  if (progress) {
    std::fprintf(stderr,
                 "train: %lld documents from %s → %lld tokens (%lld train in %zu part(s), %zu "
                 "validation)\n",
                 static_cast<long long>(documents), config.data_dir.c_str(),
                 static_cast<long long>(total), static_cast<long long>(total - n_val),
                 written.size() + (stream.empty() ? 0 : 1), n_val);
  }
  for (const std::string& path : written) data->train.push_back({nullptr, path});
  if (!stream.empty()) {
    data->train.push_back({std::make_shared<const std::vector<uint32_t>>(std::move(stream)), ""});
  }
  return absl::OkStatus();
}

// A folder of token shards: *_train_*.bin in name order, *_val_*.bin concatenated in name order;
// manifest.json (when present) gives the vocabulary, end-of-text id and tokenizer.
absl::Status LoadShards(const TrainConfig& config, TrainData* data) {
  std::error_code ec;
  if (!fs::is_directory(config.shards, ec)) {
    return ConfigError("shards", absl::StrCat(config.shards, " is not a folder"));
  }
  std::vector<std::string> train, val;
  for (const fs::directory_entry& entry : fs::directory_iterator(config.shards, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::EndsWith(name, ".bin")) continue;
    if (absl::StrContains(name, "_train_")) train.push_back(entry.path().string());
    if (absl::StrContains(name, "_val_")) val.push_back(entry.path().string());
  }
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  if (train.empty()) {
    return ConfigError("shards", absl::StrCat("no *_train_*.bin in ", config.shards));
  }
  for (const std::string& path : train) data->train.push_back({nullptr, path});
  for (const std::string& path : val) {
    absl::StatusOr<std::vector<uint32_t>> tokens = ReadTokenShard(path);
    if (!tokens.ok()) return tokens.status();
    data->val.insert(data->val.end(), tokens->begin(), tokens->end());
  }
  nlohmann::json manifest;
  if (std::ifstream in(fs::path(config.shards) / "manifest.json"); in) {
    std::stringstream text;
    text << in.rdbuf();
    manifest = nlohmann::json::parse(text.str(), nullptr, false);
  }
  if (manifest.is_object()) {
    if (manifest.contains("vocab_size") && manifest["vocab_size"].is_number_integer()) {
      data->vocab_size = manifest["vocab_size"].get<int>();
    }
    if (manifest.contains("eot") && manifest["eot"].is_number_integer()) {
      data->eot = manifest["eot"].get<int64_t>();
    }
    if (config.tokenizer.empty() && manifest.contains("tokenizer") &&
        manifest["tokenizer"].is_string()) {
      // The manifest's tokenizer serves val_bpb only; without it the run goes on without.
      const std::string spec = manifest["tokenizer"].get<std::string>();
      absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(spec);
      if (tokenizer.ok()) {
        data->tokenizer = std::move(*tokenizer);
        data->tokenizer_spec = spec;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainData> LoadData(const TrainConfig& config, const std::string& cache_dir,
                                   bool progress) {
  TrainData data;
  if (!config.tokenizer.empty()) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(config.tokenizer);
    if (!tokenizer.ok()) return ConfigError("tokenizer", tokenizer.status().message());
    data.tokenizer = std::move(*tokenizer);
    data.tokenizer_spec = config.tokenizer;
    if (data.tokenizer->eot()) data.eot = *data.tokenizer->eot();
  }
  absl::Status status = config.data_dir.empty() ? LoadShards(config, &data)
                                                : LoadDataDir(config, cache_dir, progress, &data);
  if (!status.ok()) return status;
  if (data.tokenizer != nullptr) {
    data.vocab_size = std::max(data.vocab_size, static_cast<int>(data.tokenizer->vocab_size()));
  }
  if (config.vocab_size > 0) {
    if (config.vocab_size < data.vocab_size) {
      return ConfigError(
          "vocab_size",
          absl::StrCat(config.vocab_size, " is smaller than the data's ", data.vocab_size));
    }
    data.vocab_size = config.vocab_size;
  }
  if (data.vocab_size < 1) {
    return ConfigError("vocab_size",
                       "unknown: the shards have no manifest.json and no tokenizer "
                       "is configured; set vocab_size");
  }
  return data;
}

// The validation windows (first eval_batches·B of the split, in order) and their byte count.
struct EvalSet {
  int64_t windows = 0;
  int64_t bytes = 0;  // of every target token, special tokens counting 0
};

EvalSet MakeEvalSet(const TrainConfig& config, const TrainData& data) {
  EvalSet set;
  const int64_t T = config.seq_len;
  const int64_t available = data.val.size() > 1 ? static_cast<int64_t>(data.val.size() - 1) / T : 0;
  set.windows = config.eval_batches > 0
                    ? std::min<int64_t>(available, int64_t{config.eval_batches} * config.batch_size)
                    : available;
  if (data.tokenizer != nullptr) {
    const auto& specials = data.tokenizer->specials();
    for (int64_t i = 1; i <= set.windows * T; i++) {
      const TokenId id = data.val[static_cast<size_t>(i)];
      bool special = false;
      for (const auto& [text, sid] : specials) special = special || sid == id;
      if (!special) set.bytes += static_cast<int64_t>(data.tokenizer->TokenBytes(id).size());
    }
  }
  return set;
}

struct EvalResult {
  float loss = 0;
  std::optional<float> bpb;
};

// The model's Forward, on whichever back-end runs it.
using ForwardFn =
    std::function<absl::StatusOr<float>(std::span<const int>, std::span<const int>, int, int)>;

absl::StatusOr<EvalResult> Evaluate(const ForwardFn& forward, const TrainConfig& config,
                                    const TrainData& data, const EvalSet& set) {
  const int T = config.seq_len;
  double nats = 0;
  std::vector<int> inputs, targets;
  for (int64_t w = 0; w < set.windows; w += config.batch_size) {
    const int B = static_cast<int>(std::min<int64_t>(config.batch_size, set.windows - w));
    inputs.resize(static_cast<size_t>(B) * T);
    targets.resize(static_cast<size_t>(B) * T);
    for (int b = 0; b < B; b++) {
      const size_t start = static_cast<size_t>(w + b) * T;
      for (int t = 0; t < T; t++) {
        inputs[static_cast<size_t>(b) * T + t] = static_cast<int>(data.val[start + t]);
        targets[static_cast<size_t>(b) * T + t] = static_cast<int>(data.val[start + t + 1]);
      }
    }
    absl::StatusOr<float> loss = forward(inputs, targets, B, T);
    if (!loss.ok()) return loss.status();
    nats += static_cast<double>(*loss) * B * T;
  }
  EvalResult result;
  const double tokens = static_cast<double>(set.windows) * T;
  result.loss = static_cast<float>(nats / tokens);
  if (set.bytes > 0) {
    result.bpb = static_cast<float>(nats / std::numbers::ln2 / static_cast<double>(set.bytes));
  }
  return result;
}

// Keeps the metrics lines of steps ≤ `step` (a resumed run rewrites what followed).
absl::Status TruncateMetrics(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return absl::OkStatus();
  std::string kept, line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer() ||
        j["step"].get<int64_t>() > step) {
      break;
    }
    kept += line + "\n";
  }
  in.close();
  const fs::path tmp = fs::path(path).concat(".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot replace ", path.string()));
  return absl::OkStatus();
}

absl::Status Diverged(int64_t step, absl::string_view what, float value, const TrainConfig& c) {
  return absl::AbortedError(absl::StrCat(
      "step ", step, ": the ", what, " is ", std::isnan(value) ? "NaN" : "infinite",
      "; training diverged (lr ", c.lr, "): lower lr or grad_clip, or check the data"));
}

#if WINNOW_HAVE_CUDA
// One optimizer step on the GPU, as the CPU loop does it: grad_accum micro-batches, the norm of
// the averaged gradients, clipping folded into AdamW's gradient scale. Sets *loss (the mean of
// the micro-batch losses) and returns the norm before clipping.
absl::StatusOr<float> GpuStep(CudaGpt& gpu, DataLoader& loader, const TrainConfig& config,
                              const AdamWOptions& adamw, int64_t step, double lr, float* loss) {
  std::vector<int> inputs, targets;
  if (absl::Status s = gpu.ZeroGrad(); !s.ok()) return s;
  *loss = 0;
  for (int micro = 0; micro < config.grad_accum; micro++) {
    if (absl::Status s = loader.Next(&inputs, &targets); !s.ok()) return s;
    absl::StatusOr<float> micro_loss =
        gpu.Forward(inputs, targets, config.batch_size, config.seq_len);
    if (!micro_loss.ok()) {
      return absl::Status(micro_loss.status().code(),
                          absl::StrCat("step ", step, ": ", micro_loss.status().message()));
    }
    if (!std::isfinite(*micro_loss)) return Diverged(step, "loss", *micro_loss, config);
    if (absl::Status s = gpu.Backward(); !s.ok()) return s;
    *loss += *micro_loss;
  }
  const float accum_scale = 1.0f / static_cast<float>(config.grad_accum);
  *loss *= accum_scale;
  absl::StatusOr<float> raw_norm = gpu.GradNorm();
  if (!raw_norm.ok()) return raw_norm.status();
  const float norm = *raw_norm * accum_scale;
  if (!std::isfinite(norm)) return Diverged(step, "gradient norm", norm, config);
  float scale = accum_scale;
  if (config.grad_clip > 0) {
    const float clip = static_cast<float>(config.grad_clip) / (norm + 1e-6f);
    if (clip < 1.0f) scale *= clip;
  }
  if (absl::Status s = gpu.AdamWStep(static_cast<float>(lr), adamw, scale); !s.ok()) return s;
  return norm;
}
#endif

}  // namespace

double LearningRate(const TrainConfig& config, int64_t step) {
  if (step < config.warmup_steps) {
    return config.lr * static_cast<double>(step + 1) / static_cast<double>(config.warmup_steps);
  }
  const double min_lr = config.lr * config.min_lr_ratio;
  const int64_t decay_steps = config.steps - config.warmup_steps;
  if (decay_steps <= 1) return config.lr;
  const double ratio =
      static_cast<double>(step - config.warmup_steps) / static_cast<double>(decay_steps - 1);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * std::min(1.0, ratio)));
  return min_lr + coeff * (config.lr - min_lr);
}

absl::StatusOr<TrainResult> Train(const TrainConfig& config, const TrainOptions& options) {
  std::unique_ptr<tbb::global_control> threads;
  if (config.threads > 0) {
    threads = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(config.threads));
  }
  if (options.out_dir.empty()) return absl::InvalidArgumentError("train: no output folder");
  const bool use_cuda = config.backend == "cuda";
  if (use_cuda) {
#if WINNOW_HAVE_CUDA
    std::string why;
    if (!CudaDeviceAvailable(&why)) {
      return ConfigError("backend", absl::StrCat("cuda: no usable GPU: ", why));
    }
#else
    return ConfigError("backend",
                       "cuda: this build has no CUDA back-end (nvcc was not found when it was "
                       "configured); use backend: cpu");
#endif
  }
  const fs::path out(options.out_dir);
  std::string resume_from;
  if (absl::StatusOr<std::string> latest = LatestCheckpoint(options.out_dir); latest.ok()) {
    if (!options.resume) {
      return absl::FailedPreconditionError(
          absl::StrCat(options.out_dir, " already holds checkpoints (", *latest,
                       "): pass --resume to continue, or choose another --out"));
    }
    resume_from = *latest;
  } else if (options.resume && options.progress) {
    std::fprintf(stderr, "train: no checkpoint under %s; starting afresh\n",
                 options.out_dir.c_str());
  }

  absl::StatusOr<TrainData> data =
      LoadData(config, (fs::path(options.out_dir) / "token-cache").string(), options.progress);
  if (!data.ok()) return data.status();
  absl::StatusOr<GptConfig> model_config = config.ModelConfig(data->vocab_size);
  if (!model_config.ok()) return ConfigError("model", model_config.status().message());
  absl::StatusOr<Gpt> created = Gpt::Create(*model_config, config.seed);
  if (!created.ok()) return created.status();
  Gpt model = std::move(*created);
  const int B = config.batch_size, T = config.seq_len;
  if (config.document_mask) {
    // Shards without an end-of-text id in the manifest or tokenizer are taken to be GPT-2's.
    const int64_t eot = data->eot >= 0 ? data->eot : (config.shards.empty() ? -1 : 50256);
    if (eot < 0 || eot >= model_config->vocab_size) {
      return ConfigError("document_mask",
                         absl::StrCat("needs an end-of-text id in the vocabulary, got ", eot));
    }
    model.SetDocumentMask(static_cast<int>(eot));
  }
  absl::StatusOr<std::unique_ptr<DataLoader>> loader =
      DataLoader::Create(std::move(data->train), B, T, config.seed, config.shuffle);
  if (!loader.ok())
    return ConfigError(config.data_dir.empty() ? "shards" : "data_dir", loader.status().message());
  const EvalSet eval_set = MakeEvalSet(config, *data);
  if (config.eval_every > 0 && eval_set.windows == 0) {
    return ConfigError("eval_every",
                       absl::StrCat("the validation split has ", data->val.size(),
                                    " tokens, fewer than seq_len + 1 = ", T + 1,
                                    " (raise val_fraction, add a *_val_*.bin, or set 0)"));
  }

  AdamWState optimizer;
  TrainResult result;
  int64_t start_step = 0;
  if (!resume_from.empty()) {
    absl::StatusOr<CheckpointInfo> info = ReadCheckpointInfo(resume_from);
    if (!info.ok()) return info.status();
    auto mismatch = [&](absl::string_view key, auto saved, auto now) {
      return absl::FailedPreconditionError(
          absl::StrCat(resume_from, ": the checkpoint was trained with ", key, " = ", saved,
                       ", the config says ", now, "; a resumed run must keep it"));
    };
    if (info->batch_size != B) return mismatch("batch_size", info->batch_size, B);
    if (info->seq_len != T) return mismatch("seq_len", info->seq_len, T);
    if (info->seed != config.seed) return mismatch("seed", info->seed, config.seed);
    if (absl::Status s = LoadCheckpointModel(resume_from, model); !s.ok()) return s;
    if (absl::Status s = LoadCheckpointOptimizer(resume_from, model, optimizer); !s.ok()) return s;
    if (absl::Status s = (*loader)->Restore(info->loader); !s.ok()) return s;
    start_step = info->step;
    if (options.progress) {
      std::fprintf(stderr, "train: resuming from %s (step %lld)\n", resume_from.c_str(),
                   static_cast<long long>(start_step));
    }
  }

  // The CUDA back-end holds the training state on the GPU; `model` and `optimizer` are its host
  // copies, refreshed for every checkpoint.
#if WINNOW_HAVE_CUDA
  std::unique_ptr<CudaGpt> gpu;
  if (use_cuda) {
    absl::StatusOr<std::unique_ptr<CudaGpt>> created_gpu =
        CudaGpt::Create(model.config(), model.params(), B, T);
    if (!created_gpu.ok()) {
      // A shape the kernels lack or a batch the GPU cannot hold is the config's doing.
      const absl::StatusCode code = created_gpu.status().code();
      if (code == absl::StatusCode::kUnimplemented) {
        return ConfigError("backend", created_gpu.status().message());
      }
      if (code == absl::StatusCode::kResourceExhausted) {
        return ConfigError("batch_size", created_gpu.status().message());
      }
      return created_gpu.status();
    }
    gpu = std::move(*created_gpu);
    gpu->SetDocumentMask(model.document_mask_eot());
    if (!resume_from.empty()) {
      if (absl::Status s = gpu->SetOptimizerState(optimizer); !s.ok()) return s;
    }
    if (options.progress) {
      std::fprintf(stderr, "train: backend cuda (%s)\n", CudaDeviceName().c_str());
    }
  }
#endif
  ForwardFn forward = [&](std::span<const int> inputs, std::span<const int> targets, int b, int t) {
    return model.Forward(inputs, targets, b, t);
  };
#if WINNOW_HAVE_CUDA
  if (gpu != nullptr) {
    forward = [&](std::span<const int> inputs, std::span<const int> targets, int b, int t) {
      return gpu->Forward(inputs, targets, b, t);
    };
  }
#endif

  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", out.string(), ": ", ec.message()));
  {
    std::ofstream yaml(out / "config.yaml", std::ios::trunc);
    yaml << config.source_yaml;
  }
  const fs::path metrics_path = out / "metrics.jsonl";
  if (start_step > 0) {
    if (absl::Status s = TruncateMetrics(metrics_path, start_step); !s.ok()) return s;
  }
  std::ofstream metrics(metrics_path, start_step > 0 ? std::ios::app : std::ios::trunc);
  if (!metrics) return absl::InternalError(absl::StrCat("cannot write ", metrics_path.string()));

  const GptConfig& mc = model.config();
  const double flops_per_token =
      6.0 * static_cast<double>(model.num_parameters()) + 6.0 * mc.num_layers * mc.channels * T;
  double peak_tflops = config.peak_tflops;
#if WINNOW_HAVE_CUDA
  if (gpu != nullptr && peak_tflops == 0) peak_tflops = CudaPeakBf16Tflops();
#endif
  const int64_t end_step =
      options.stop_at_step > 0 ? std::min(options.stop_at_step, config.steps) : config.steps;
  CheckpointInfo info;
  info.batch_size = B;
  info.seq_len = T;
  info.seed = config.seed;
  info.tokenizer = data->tokenizer_spec;
  info.eot = data->eot;
  info.config_yaml = config.source_yaml;
  const AdamWOptions adamw{static_cast<float>(config.beta1), static_cast<float>(config.beta2),
                           1e-8f, static_cast<float>(config.weight_decay)};

  auto write_line = [&](const nlohmann::ordered_json& line) -> absl::Status {
    metrics << line.dump() << "\n";
    metrics.flush();
    if (!metrics) return absl::InternalError(absl::StrCat("cannot write ", metrics_path.string()));
    return absl::OkStatus();
  };
  if (start_step == 0 && config.eval_every > 0) {
    absl::StatusOr<EvalResult> eval = Evaluate(forward, config, *data, eval_set);
    if (!eval.ok()) return eval.status();
    if (!std::isfinite(eval->loss)) return Diverged(0, "validation loss", eval->loss, config);
    result.initial_val_loss = eval->loss;
    nlohmann::ordered_json line = {{"step", 0}, {"val_loss", eval->loss}};
    if (eval->bpb) line["val_bpb"] = *eval->bpb;
    if (absl::Status s = write_line(line); !s.ok()) return s;
    if (options.progress) {
      std::fprintf(stderr, "step %6d/%lld | val_loss %.4f\n", 0,
                   static_cast<long long>(config.steps), eval->loss);
    }
  }

  result.first_step = start_step + 1;
  result.last_step = start_step;
  std::vector<int> inputs, targets;
  for (int64_t step = start_step + 1; step <= end_step; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    float loss = 0, norm = 0;
    const double lr = LearningRate(config, step - 1);
#if WINNOW_HAVE_CUDA
    if (gpu != nullptr) {
      absl::StatusOr<float> gpu_norm = GpuStep(*gpu, **loader, config, adamw, step, lr, &loss);
      if (!gpu_norm.ok()) return gpu_norm.status();
      norm = *gpu_norm;
    }
#endif
    if (!use_cuda) {
      model.ZeroGrad();
      for (int micro = 0; micro < config.grad_accum; micro++) {
        if (absl::Status s = (*loader)->Next(&inputs, &targets); !s.ok()) return s;
        absl::StatusOr<float> micro_loss = model.Forward(inputs, targets, B, T);
        if (!micro_loss.ok()) {
          return absl::Status(micro_loss.status().code(),
                              absl::StrCat("step ", step, ": ", micro_loss.status().message()));
        }
        if (!std::isfinite(*micro_loss)) return Diverged(step, "loss", *micro_loss, config);
        if (absl::Status s = model.Backward(); !s.ok()) return s;
        loss += *micro_loss;
      }
      if (config.grad_accum > 1) {
        loss /= static_cast<float>(config.grad_accum);
        const float scale = 1.0f / static_cast<float>(config.grad_accum);
        for (float& g : model.grads()) g *= scale;
      }
      norm = config.grad_clip > 0
                 ? ClipGradNorm(model.grads(), static_cast<float>(config.grad_clip))
                 : GradNorm(model.grads());
      if (!std::isfinite(norm)) return Diverged(step, "gradient norm", norm, config);
      AdamWStep(model, optimizer, static_cast<float>(lr), adamw);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tokens_per_s =
        static_cast<double>(B) * T * config.grad_accum / std::max(seconds, 1e-9);
    const double mfu =
        peak_tflops > 0 ? flops_per_token * tokens_per_s / (peak_tflops * 1e12) : 0.0;
    result.losses.push_back(loss);
    result.last_step = step;

    nlohmann::ordered_json line = {{"step", step},
                                   {"loss", loss},
                                   {"lr", lr},
                                   {"grad_norm", norm},
                                   {"tokens_per_s", tokens_per_s},
                                   {"mfu", mfu}};
    std::string val_text;
    if (config.eval_every > 0 && (step % config.eval_every == 0 || step == end_step)) {
      absl::StatusOr<EvalResult> eval = Evaluate(forward, config, *data, eval_set);
      if (!eval.ok()) return eval.status();
      if (!std::isfinite(eval->loss)) return Diverged(step, "validation loss", eval->loss, config);
      line["val_loss"] = eval->loss;
      if (eval->bpb) line["val_bpb"] = *eval->bpb;
      result.final_val_loss = eval->loss;
      result.final_val_bpb = eval->bpb;
      val_text = absl::StrCat(" | val_loss ", eval->loss);
      if (eval->bpb) absl::StrAppend(&val_text, " | val_bpb ", *eval->bpb);
    }
    if (absl::Status s = write_line(line); !s.ok()) return s;
    if (options.progress) {
      std::fprintf(stderr,
                   "step %6lld/%lld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s | %.1f ms%s\n",
                   static_cast<long long>(step), static_cast<long long>(config.steps), loss, lr,
                   norm, tokens_per_s, seconds * 1e3, val_text.c_str());
    }
    if ((config.checkpoint_every > 0 && step % config.checkpoint_every == 0) || step == end_step) {
      info.step = step;
      info.loader = (*loader)->state();
#if WINNOW_HAVE_CUDA
      if (gpu != nullptr) {
        if (absl::Status s = gpu->CopyParamsToHost(model.params()); !s.ok()) return s;
        if (absl::Status s = gpu->GetOptimizerState(&optimizer); !s.ok()) return s;
      }
#endif
      absl::StatusOr<std::string> dir =
          WriteCheckpoint(options.out_dir, model, optimizer, info, config.keep_checkpoints);
      if (!dir.ok()) return dir.status();
      result.checkpoint = *dir;
      if (options.progress) std::fprintf(stderr, "train: checkpoint %s\n", dir->c_str());
    }
  }
  return result;
}

}  // namespace winnow::trainer
