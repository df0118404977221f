#include "services/dashboard/training_runs.h"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "trainer/train/checkpoint.h"

namespace winnow::services {
namespace {

namespace fs = std::filesystem;

// Folder name → path, for every run under `parent`.
std::map<std::string, fs::path> Runs(const std::string& parent) {
  std::map<std::string, fs::path> runs;
  std::error_code ec;
  const fs::path root = fs::absolute(parent, ec);
  if (fs::exists(root / "metrics.jsonl", ec)) runs[root.filename().string()] = root;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec) && fs::exists(entry.path() / "metrics.jsonl", ec)) {
      runs[entry.path().filename().string()] = entry.path();
    }
  }
  return runs;
}

std::vector<nlohmann::json> ReadMetrics(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (m.is_object() && m.contains("step")) lines.push_back(std::move(m));
  }
  return lines;
}

nlohmann::json RunJson(const std::string& id, const fs::path& run) {
  nlohmann::json training = nlohmann::json::object();
  try {  // the config the run saved: its steps and model
    const YAML::Node config = YAML::LoadFile((run / "config.yaml").string());
    if (config["steps"]) training["steps"] = config["steps"].as<int64_t>();
    if (config["model"] && config["model"].IsScalar()) {
      training["model"] = config["model"].as<std::string>();
    } else if (config["model"] && config["model"].IsMap()) {
      training["model"] = absl::StrCat(config["model"]["layers"].as<int>(0), "×",
                                       config["model"]["channels"].as<int>(0));
    }
  } catch (const YAML::Exception&) {
    // No (or an unreadable) config: the metrics alone.
  }
  const std::vector<nlohmann::json> metrics = ReadMetrics(run);
  int64_t step = 0;
  for (const nlohmann::json& m : metrics) {
    step = m["step"].get<int64_t>();
    for (const char* key : {"loss", "lr", "tokens_per_s", "mfu", "val_loss", "val_bpb"}) {
      if (m.contains(key) && m[key].is_number()) training[key] = m[key];
    }
  }
  training["step"] = step;
  if (absl::StatusOr<std::string> latest = trainer::LatestCheckpoint(run.string()); latest.ok()) {
    training["checkpoint"] = *latest;
  }
  std::string state = "stopped";
  std::error_code ec;
  const auto written = fs::last_write_time(run / "metrics.jsonl", ec);
  if (training.contains("steps") && step >= training["steps"].get<int64_t>()) {
    state = "succeeded";
  } else if (!ec && fs::file_time_type::clock::now() - written < std::chrono::minutes(2)) {
    state = "running";
  }
  return {{"job_id", id},   {"name", run.string()}, {"kind", "train"},
          {"state", state}, {"eta_seconds", -1},    {"training", training}};
}

}  // namespace

nlohmann::json TrainingRunsJson(const std::string& parent) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, run] : Runs(parent)) out.push_back(RunJson(id, run));
  return out;
}

absl::StatusOr<nlohmann::json> TrainingRunMetrics(const std::string& parent,
                                                  const std::string& id) {
  const std::map<std::string, fs::path> runs = Runs(parent);
  auto it = runs.find(id);
  if (it == runs.end()) return absl::NotFoundError("no training run " + id);
  nlohmann::json out = nlohmann::json::array();
  for (nlohmann::json& m : ReadMetrics(it->second)) out.push_back(std::move(m));
  return out;
}

}  // namespace winnow::services
