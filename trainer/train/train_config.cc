#include "trainer/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace winnow::trainer {
namespace {

absl::Status Bad(absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("train config: ", key, ": ", why));
}

std::string Shown(const YAML::Node& node) {
  return node.IsScalar() ? absl::StrCat("\"", node.Scalar(), "\"") : "(not a single value)";
}

// Reads one scalar as T; InvalidArgument naming the key when it is not one.
template <typename T>
absl::Status Read(const YAML::Node& node, absl::string_view key, absl::string_view what, T* out) {
  if (node.IsScalar()) {
    try {
      *out = node.as<T>();
      return absl::OkStatus();
    } catch (const YAML::Exception&) {
    }
  }
  return Bad(key, absl::StrCat("expected ", what, ", got ", Shown(node)));
}

absl::Status Int(const YAML::Node& n, absl::string_view key, int64_t min, int64_t* out) {
  if (absl::Status s = Read(n, key, "an integer", out); !s.ok()) return s;
  if (*out < min) return Bad(key, absl::StrCat("must be ≥ ", min, ", got ", *out));
  return absl::OkStatus();
}

absl::Status Int(const YAML::Node& n, absl::string_view key, int64_t min, int* out) {
  int64_t v = 0;
  if (absl::Status s = Int(n, key, min, &v); !s.ok()) return s;
  if (v > std::numeric_limits<int>::max()) return Bad(key, absl::StrCat("too large: ", v));
  *out = static_cast<int>(v);
  return absl::OkStatus();
}

// A finite number in [min, max].
absl::Status Real(const YAML::Node& n, absl::string_view key, double min, double max, double* out) {
  if (absl::Status s = Read(n, key, "a number", out); !s.ok()) return s;
  if (!std::isfinite(*out) || *out < min || *out > max) {
    return Bad(key, absl::StrCat("must be in [", min, ", ", max, "], got ", *out));
  }
  return absl::OkStatus();
}

absl::Status Text(const YAML::Node& n, absl::string_view key, std::string* out) {
  if (absl::Status s = Read(n, key, "a string", out); !s.ok()) return s;
  if (out->empty()) return Bad(key, "must not be empty");
  return absl::OkStatus();
}

absl::Status ParseModel(const YAML::Node& node, TrainConfig* c) {
  if (node.IsScalar()) {
    c->model_preset = node.Scalar();
    if (absl::StatusOr<GptConfig> preset = GptPreset(c->model_preset); !preset.ok()) {
      return Bad("model", preset.status().message());
    }
    return absl::OkStatus();
  }
  if (!node.IsMap())
    return Bad("model", "expected a preset name or {layers, heads, channels, context}");
  c->model_preset.clear();
  struct Field {
    const char* name;
    int* value;
  };
  const Field fields[] = {{"layers", &c->layers},
                          {"heads", &c->heads},
                          {"channels", &c->channels},
                          {"context", &c->context}};
  for (const auto& kv : node) {
    const std::string name = kv.first.as<std::string>();
    bool known = false;
    for (const Field& f : fields) {
      if (name != f.name) continue;
      known = true;
      if (absl::Status s = Int(kv.second, absl::StrCat("model.", name), 1, f.value); !s.ok()) {
        return s;
      }
    }
    if (!known) {
      return Bad(absl::StrCat("model.", name),
                 "unknown key (known: layers, heads, channels, context)");
    }
  }
  for (const Field& f : fields) {
    if (*f.value == 0) return Bad(absl::StrCat("model.", f.name), "missing");
  }
  if (c->channels % c->heads != 0) {
    return Bad("model.channels", absl::StrCat("must be a multiple of model.heads (", c->heads,
                                              "), got ", c->channels));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GptConfig> TrainConfig::ModelConfig(int vocab) const {
  GptConfig config;
  if (!model_preset.empty()) {
    absl::StatusOr<GptConfig> preset = GptPreset(model_preset, vocab);
    if (!preset.ok()) return preset.status();
    config = *preset;
  } else {
    config.vocab_size = vocab;
    config.padded_vocab_size = PaddedVocabSize(vocab);
    config.num_layers = layers;
    config.num_heads = heads;
    config.channels = channels;
    config.max_seq_len = context;
  }
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

absl::StatusOr<TrainConfig> ParseTrainConfig(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("train config: not YAML: ", e.what()));
  }
  TrainConfig c;
  c.source_yaml = std::string(yaml);
  if (root.IsNull()) return Bad("data_dir", "missing (or shards)");
  if (!root.IsMap()) return absl::InvalidArgumentError("train config: expected a YAML mapping");

  using Setter = std::function<absl::Status(const YAML::Node&, absl::string_view)>;
  constexpr double kMax = std::numeric_limits<double>::max();
  const std::vector<std::pair<std::string, Setter>> schema = {
      {"mode", [&](auto& n, auto k) { return Text(n, k, &c.mode); }},
      {"model", [&](auto& n, auto) { return ParseModel(n, &c); }},
      {"vocab_size", [&](auto& n, auto k) { return Int(n, k, 1, &c.vocab_size); }},
      {"data_dir", [&](auto& n, auto k) { return Text(n, k, &c.data_dir); }},
      {"shards", [&](auto& n, auto k) { return Text(n, k, &c.shards); }},
      {"tokenizer", [&](auto& n, auto k) { return Text(n, k, &c.tokenizer); }},
      {"val_fraction", [&](auto& n, auto k) { return Real(n, k, 0, 0.5, &c.val_fraction); }},
      {"data_part_tokens",
       [&](auto& n, auto k) {
         if (absl::Status s = Int(n, k, 1024, &c.data_part_tokens); !s.ok()) return s;
         // A part is one token shard, whose header counts in int32.
         if (c.data_part_tokens > (int64_t{1} << 30)) return Bad(k, "must be ≤ 2^30");
         return absl::OkStatus();
       }},
      {"shuffle", [&](auto& n, auto k) { return Read(n, k, "true or false", &c.shuffle); }},
      {"steps", [&](auto& n, auto k) { return Int(n, k, 1, &c.steps); }},
      {"batch_size", [&](auto& n, auto k) { return Int(n, k, 1, &c.batch_size); }},
      {"seq_len", [&](auto& n, auto k) { return Int(n, k, 1, &c.seq_len); }},
      {"grad_accum", [&](auto& n, auto k) { return Int(n, k, 1, &c.grad_accum); }},
      {"lr", [&](auto& n, auto k) { return Real(n, k, 0, kMax, &c.lr); }},
      {"warmup_steps", [&](auto& n, auto k) { return Int(n, k, 0, &c.warmup_steps); }},
      {"min_lr_ratio", [&](auto& n, auto k) { return Real(n, k, 0, 1, &c.min_lr_ratio); }},
      {"weight_decay", [&](auto& n, auto k) { return Real(n, k, 0, kMax, &c.weight_decay); }},
      {"beta1", [&](auto& n, auto k) { return Real(n, k, 0, 0.999999, &c.beta1); }},
      {"beta2", [&](auto& n, auto k) { return Real(n, k, 0, 0.999999, &c.beta2); }},
      {"grad_clip", [&](auto& n, auto k) { return Real(n, k, 0, kMax, &c.grad_clip); }},
      {"eval_every", [&](auto& n, auto k) { return Int(n, k, 0, &c.eval_every); }},
      {"eval_batches", [&](auto& n, auto k) { return Int(n, k, 0, &c.eval_batches); }},
      {"checkpoint_every", [&](auto& n, auto k) { return Int(n, k, 0, &c.checkpoint_every); }},
      {"keep_checkpoints", [&](auto& n, auto k) { return Int(n, k, 1, &c.keep_checkpoints); }},
      {"seed", [&](auto& n, auto k) { return Read(n, k, "an unsigned integer", &c.seed); }},
      {"threads", [&](auto& n, auto k) { return Int(n, k, 0, &c.threads); }},
      {"peak_tflops", [&](auto& n, auto k) { return Real(n, k, 0, kMax, &c.peak_tflops); }},
      {"out", [&](auto& n, auto k) { return Text(n, k, &c.out); }},
      {"backend", [&](auto& n, auto k) { return Text(n, k, &c.backend); }},
      {"document_mask",
       [&](auto& n, auto k) { return Read(n, k, "true or false", &c.document_mask); }},
  };
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "(not a string)";
    bool known = false;
    for (const auto& [name, set] : schema) {
      if (name != key) continue;
      known = true;
      if (absl::Status s = set(kv.second, name); !s.ok()) return s;
    }
    if (!known) {
      std::vector<std::string> names;
      for (const auto& entry : schema) names.push_back(entry.first);
      return Bad(key, absl::StrCat("unknown key (known: ", absl::StrJoin(names, ", "), ")"));
    }
  }

  if (c.mode != "pretrain") {
    if (c.mode == "sft" || c.mode == "reward" || c.mode == "rlhf" || c.mode == "dpo") {
      return Bad("mode", absl::StrCat("\"", c.mode, "\" is not in this build yet (pretrain is)"));
    }
    return Bad("mode", absl::StrCat("unknown mode \"", c.mode,
                                    "\" (pretrain; sft, reward, rlhf, dpo later)"));
  }
  if (c.backend != "cpu" && c.backend != "cuda") {
    return Bad("backend", absl::StrCat("unknown backend \"", c.backend, "\" (cpu, cuda)"));
  }
  if (c.data_dir.empty() == c.shards.empty()) {
    return Bad(c.data_dir.empty() ? "data_dir" : "shards",
               "give exactly one of data_dir (curated documents) and shards (token shards)");
  }
  if (!c.data_dir.empty() && c.tokenizer.empty()) c.tokenizer = "gpt2";
  // The model's context bounds seq_len; the vocabulary is not known yet (any size validates).
  absl::StatusOr<GptConfig> model = c.ModelConfig(c.vocab_size > 0 ? c.vocab_size : 1);
  if (!model.ok()) return Bad("model", model.status().message());
  if (c.seq_len == 0) c.seq_len = model->max_seq_len;
  if (c.seq_len > model->max_seq_len) {
    return Bad("seq_len", absl::StrCat("must be ≤ the model's context (", model->max_seq_len,
                                       "), got ", c.seq_len));
  }
  if (c.warmup_steps > c.steps) {
    return Bad("warmup_steps",
               absl::StrCat("must be ≤ steps (", c.steps, "), got ", c.warmup_steps));
  }
  return c;
}

absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read train config ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TrainConfig> config = ParseTrainConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace winnow::trainer
