#include "trainer/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "trainer/train/safetensors.h"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;

constexpr char kFormat[] = "winnow-train-checkpoint";

nlohmann::json ModelJson(const GptConfig& c) {
  return {{"vocab_size", c.vocab_size},   {"padded_vocab_size", c.padded_vocab_size},
          {"max_seq_len", c.max_seq_len}, {"num_layers", c.num_layers},
          {"num_heads", c.num_heads},     {"channels", c.channels}};
}

std::string ModelString(const GptConfig& c) {
  return absl::StrFormat("V=%d Vp=%d maxT=%d L=%d NH=%d C=%d", c.vocab_size, c.padded_vocab_size,
                         c.max_seq_len, c.num_layers, c.num_heads, c.channels);
}

bool SameShape(const GptConfig& a, const GptConfig& b) {
  return a.vocab_size == b.vocab_size && a.padded_vocab_size == b.padded_vocab_size &&
         a.max_seq_len == b.max_seq_len && a.num_layers == b.num_layers &&
         a.num_heads == b.num_heads && a.channels == b.channels;
}

// Flushes a file (or folder) to disk.
void Sync(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

std::vector<int64_t> Shape(const std::vector<int>& shape) {
  return std::vector<int64_t>(shape.begin(), shape.end());
}

// "step_000123" → 123, else −1.
int64_t StepOf(const std::string& name) {
  if (name.size() < 6 || name.compare(0, 5, "step_") != 0) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

// The step_ folders under OUT/checkpoints, oldest first.
std::vector<std::pair<int64_t, fs::path>> StepDirs(const fs::path& root) {
  std::vector<std::pair<int64_t, fs::path>> dirs;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return dirs;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    const int64_t step = StepOf(entry.path().filename().string());
    if (step >= 0 && entry.is_directory(ec)) dirs.emplace_back(step, entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

absl::StatusOr<SafetensorsFile> ReadChecked(const fs::path& path) {
  return ReadSafetensors(path.string());
}

}  // namespace

absl::StatusOr<std::string> WriteCheckpoint(const std::string& out_dir, const Gpt& model,
                                            const AdamWState& optimizer, CheckpointInfo info,
                                            int keep) {
  info.model = model.config();
  const fs::path root = fs::path(out_dir) / "checkpoints";
  const std::string name = absl::StrFormat("step_%06d", info.step);
  const fs::path final_dir = root / name;
  const fs::path tmp_dir = root / absl::StrCat(".", name, ".tmp");
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot create ", tmp_dir.string(), ": ", ec.message()));

  const std::vector<GptTensorInfo> layout = GptLayout(model.config());
  const std::span<const float> params = model.params();
  std::vector<SafetensorsTensorView> weights;
  for (const GptTensorInfo& t : layout) {
    weights.push_back({std::string(t.name), Shape(t.shape), params.subspan(t.offset, t.size)});
  }
  const std::map<std::string, std::string> model_meta = {
      {"winnow_model", "gpt2"}, {"winnow_shape", ModelString(model.config())}};
  if (absl::Status s =
          WriteSafetensors((tmp_dir / "model.safetensors").string(), weights, model_meta);
      !s.ok()) {
    return s;
  }
  std::vector<SafetensorsTensorView> moments;
  const size_t n = model.num_parameters();
  if (optimizer.m.size() == n && optimizer.v.size() == n) {
    for (const char* which : {"m", "v"}) {
      const std::vector<float>& buffer = which[0] == 'm' ? optimizer.m : optimizer.v;
      for (const GptTensorInfo& t : layout) {
        moments.push_back({absl::StrCat(which, ".", std::string(t.name)), Shape(t.shape),
                           std::span<const float>(buffer).subspan(t.offset, t.size)});
      }
    }
  }
  if (absl::Status s = WriteSafetensors((tmp_dir / "optimizer.safetensors").string(), moments,
                                        {{"step", absl::StrCat(optimizer.step)}});
      !s.ok()) {
    return s;
  }
  const nlohmann::json state = {
      {"format", kFormat},
      {"version", 1},
      {"step", info.step},
      {"model", ModelJson(info.model)},
      {"adam_step", optimizer.step},
      {"loader",
       {{"epoch", info.loader.epoch}, {"part", info.loader.part}, {"window", info.loader.window}}},
      {"batch_size", info.batch_size},
      {"seq_len", info.seq_len},
      {"seed", info.seed},
      {"tokenizer", info.tokenizer},
      {"eot", info.eot},
      {"config", info.config_yaml},
  };
  {
    std::ofstream out(tmp_dir / "state.json", std::ios::trunc);
    out << state.dump(2) << "\n";
    out.close();
    if (!out)
      return absl::InternalError(absl::StrCat("cannot write ", (tmp_dir / "state.json").string()));
  }
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "state.json"}) {
    Sync(tmp_dir / file);
  }
  Sync(tmp_dir);
  fs::remove_all(final_dir, ec);
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp_dir.string(), " to ",
                                            final_dir.string(), ": ", ec.message()));
  }
  Sync(root);
  std::vector<std::pair<int64_t, fs::path>> dirs = StepDirs(root);
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < dirs.size(); i++) {
    fs::remove_all(dirs[i].second, ec);
  }
  return final_dir.string();
}

absl::StatusOr<std::string> LatestCheckpoint(const std::string& out_dir) {
  const fs::path root = fs::path(out_dir) / "checkpoints";
  std::vector<std::pair<int64_t, fs::path>> dirs = StepDirs(root);
  std::error_code ec;
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (fs::exists(it->second / "state.json", ec)) return it->second.string();
  }
  return absl::NotFoundError(absl::StrCat("no checkpoint under ", root.string()));
}

absl::StatusOr<CheckpointInfo> ReadCheckpointInfo(const std::string& dir) {
  const std::string path = (fs::path(dir) / "state.json").string();
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object() || j.value("format", "") != kFormat || j.value("version", 0) != 1) {
    return absl::DataLossError(absl::StrCat(path, ": not a winnow training checkpoint (v1)"));
  }
  try {
    CheckpointInfo info;
    info.step = j.at("step").get<int64_t>();
    const nlohmann::json& m = j.at("model");
    info.model.vocab_size = m.at("vocab_size").get<int>();
    info.model.padded_vocab_size = m.at("padded_vocab_size").get<int>();
    info.model.max_seq_len = m.at("max_seq_len").get<int>();
    info.model.num_layers = m.at("num_layers").get<int>();
    info.model.num_heads = m.at("num_heads").get<int>();
    info.model.channels = m.at("channels").get<int>();
    info.loader.epoch = j.at("loader").at("epoch").get<int64_t>();
    info.loader.part = j.at("loader").at("part").get<int64_t>();
    info.loader.window = j.at("loader").at("window").get<int64_t>();
    info.batch_size = j.at("batch_size").get<int>();
    info.seq_len = j.at("seq_len").get<int>();
    info.seed = j.at("seed").get<uint64_t>();
    info.tokenizer = j.at("tokenizer").get<std::string>();
    info.eot = j.at("eot").get<int64_t>();
    info.config_yaml = j.at("config").get<std::string>();
    return info;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
}

absl::Status LoadCheckpointModel(const std::string& dir, Gpt& model) {
  absl::StatusOr<CheckpointInfo> info = ReadCheckpointInfo(dir);
  if (!info.ok()) return info.status();
  if (!SameShape(info->model, model.config())) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": the checkpoint's model (", ModelString(info->model),
                     ") is not the configured one (", ModelString(model.config()), ")"));
  }
  const fs::path path = fs::path(dir) / "model.safetensors";
  absl::StatusOr<SafetensorsFile> file = ReadChecked(path);
  if (!file.ok()) return file.status();
  std::span<float> params = model.params();
  for (const GptTensorInfo& t : GptLayout(model.config())) {
    const SafetensorsTensor* tensor = file->Find(std::string(t.name));
    if (tensor == nullptr || tensor->data.size() != t.size) {
      return absl::DataLossError(absl::StrCat(path.string(), ": tensor ", std::string(t.name),
                                              " is missing or has the wrong size"));
    }
    std::copy(tensor->data.begin(), tensor->data.end(), params.begin() + t.offset);
  }
  return absl::OkStatus();
}

absl::Status LoadCheckpointOptimizer(const std::string& dir, const Gpt& model,
                                     AdamWState& optimizer) {
  const fs::path path = fs::path(dir) / "optimizer.safetensors";
  absl::StatusOr<SafetensorsFile> file = ReadChecked(path);
  if (!file.ok()) return file.status();
  auto step = file->metadata.find("step");
  if (step == file->metadata.end()) {
    return absl::DataLossError(absl::StrCat(path.string(), ": no step in the metadata"));
  }
  if (!absl::SimpleAtoi(step->second, &optimizer.step)) {
    return absl::DataLossError(absl::StrCat(path.string(), ": bad step ", step->second));
  }
  optimizer.m.clear();
  optimizer.v.clear();
  if (file->tensors.empty()) return absl::OkStatus();  // saved before the first step
  const size_t n = model.num_parameters();
  optimizer.m.assign(n, 0.0f);
  optimizer.v.assign(n, 0.0f);
  for (const GptTensorInfo& t : GptLayout(model.config())) {
    for (const char* which : {"m", "v"}) {
      const SafetensorsTensor* tensor = file->Find(absl::StrCat(which, ".", std::string(t.name)));
      if (tensor == nullptr || tensor->data.size() != t.size) {
        return absl::DataLossError(absl::StrCat(path.string(), ": tensor ", which, ".",
                                                std::string(t.name),
                                                " is missing or has the wrong size"));
      }
      std::vector<float>& buffer = which[0] == 'm' ? optimizer.m : optimizer.v;
      std::copy(tensor->data.begin(), tensor->data.end(), buffer.begin() + t.offset);
    }
  }
  return absl::OkStatus();
}

}  // namespace winnow::trainer
