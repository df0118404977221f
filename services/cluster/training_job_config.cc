#include "services/cluster/training_job_config.h"

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"

namespace winnow::services {
namespace {

absl::StatusOr<YAML::Node> Load(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("the training config: ", e.what()));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) return absl::InvalidArgumentError("the training config is not a YAML mapping");
  for (const char* key : {"data_dir", "shards", "out"}) {
    if (root[key]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the training config: ", key,
          ": a cluster training job trains on the cluster's curated documents (choose them with "
          "--snapshot) and keeps its output on the worker; drop this key"));
    }
  }
  return root;
}

std::string Emit(const YAML::Node& root) {
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace

absl::StatusOr<trainer::TrainConfig> CheckTrainingJobConfig(std::string_view yaml) {
  absl::StatusOr<YAML::Node> root = Load(yaml);
  if (!root.ok()) return root.status();
  (*root)["data_dir"] = "cluster";  // a stand-in, so the rest is checked as `winnow train` would
  absl::StatusOr<trainer::TrainConfig> config = trainer::ParseTrainConfig(Emit(*root));
  if (!config.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the training config: ", config.status().message()));
  }
  return config;
}

absl::StatusOr<std::string> WorkerTrainingConfig(std::string_view yaml,
                                                 const std::string& data_dir) {
  absl::StatusOr<YAML::Node> root = Load(yaml);
  if (!root.ok()) return root.status();
  (*root)["data_dir"] = data_dir;
  return Emit(*root);
}

int64_t TokensPerStep(const trainer::TrainConfig& config) {
  int64_t seq = config.seq_len;
  if (seq <= 0) {
    if (config.model_preset.empty()) {
      seq = config.context;
    } else if (absl::StatusOr<trainer::GptConfig> preset = trainer::GptPreset(config.model_preset);
               preset.ok()) {
      seq = preset->max_seq_len;
    }
  }
  return int64_t{config.batch_size} * seq * config.grad_accum;
}

std::string ModelName(const trainer::TrainConfig& config) {
  if (!config.model_preset.empty()) return config.model_preset;
  return absl::StrCat(config.layers, "×", config.channels);
}

}  // namespace winnow::services
