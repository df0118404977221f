#include "trainer/train/hf_export.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/model/gpt.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

namespace winnow::trainer {
namespace {

namespace fs = std::filesystem;

// (rows, cols) row-major → (cols, rows) row-major.
std::vector<float> Transposed(std::span<const float> m, int rows, int cols) {
  std::vector<float> t(m.size());
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < cols; c++) {
      t[static_cast<size_t>(c) * rows + r] = m[static_cast<size_t>(r) * cols + c];
    }
  }
  return t;
}

absl::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::Status CopyFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot copy ", from.string(), " to ", to.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Copies what Hugging Face can read of the tokenizer SPEC (tokenizer.h) into OUT and returns a
// sentence for the README.
absl::StatusOr<std::string> ExportTokenizer(const std::string& spec, const fs::path& out) {
  if (spec.empty()) return std::string("The checkpoint does not name its tokenizer.");
  std::error_code ec;
  const fs::path path(spec);
  fs::path tokenizer_json;
  if (fs::is_directory(path, ec)) {
    if (fs::is_regular_file(path / "tokenizer.json", ec)) {
      tokenizer_json = path / "tokenizer.json";
    } else if (fs::is_regular_file(path / "encoder.json", ec) &&
               fs::is_regular_file(path / "vocab.bpe", ec)) {
      if (absl::Status s = CopyFile(path / "encoder.json", out / "vocab.json"); !s.ok()) return s;
      if (absl::Status s = CopyFile(path / "vocab.bpe", out / "merges.txt"); !s.ok()) return s;
      const nlohmann::json config = {{"tokenizer_class", "GPT2Tokenizer"}};
      if (absl::Status s = WriteText(out / "tokenizer_config.json", config.dump(2) + "\n");
          !s.ok()) {
        return s;
      }
      return absl::StrCat("The tokenizer (GPT-2's encoder.json and vocab.bpe from ", spec,
                          ") is here as vocab.json and merges.txt.");
    }
  } else if (path.filename() == "tokenizer.json" && fs::is_regular_file(path, ec)) {
    tokenizer_json = path;
  }
  if (!tokenizer_json.empty()) {
    if (absl::Status s = CopyFile(tokenizer_json, out / "tokenizer.json"); !s.ok()) return s;
    const nlohmann::json config = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
    if (absl::Status s = WriteText(out / "tokenizer_config.json", config.dump(2) + "\n"); !s.ok()) {
      return s;
    }
    return absl::StrCat("The tokenizer is here as tokenizer.json (from ", spec, ").");
  }
  if (spec == "gpt2" || spec == "r50k_base") {
    return absl::StrCat("The tokenizer is the named encoding `", spec,
                        "`, GPT-2's own: AutoTokenizer.from_pretrained(\"gpt2\") encodes the "
                        "same ids. No tokenizer files are included.");
  }
  return absl::StrCat("The tokenizer is `", spec,
                      "` (a named encoding or a tiktoken rank file), which Hugging Face cannot "
                      "load directly; no tokenizer files are included. Encode with tiktoken or "
                      "`winnow tokenizer`.");
}

}  // namespace

absl::Status ExportHf(const std::string& checkpoint_dir, const std::string& out_dir) {
  std::error_code ec;
  std::string dir = checkpoint_dir;
  if (!fs::exists(fs::path(dir) / "state.json", ec)) {
    if (!fs::is_directory(dir, ec)) {
      return absl::NotFoundError(absl::StrCat("no checkpoint folder ", checkpoint_dir));
    }
    absl::StatusOr<std::string> latest = LatestCheckpoint(dir);
    if (!latest.ok()) return latest.status();
    dir = *latest;
  }
  absl::StatusOr<CheckpointInfo> info = ReadCheckpointInfo(dir);
  if (!info.ok()) return info.status();
  const GptConfig& config = info->model;
  if (absl::Status s = config.Validate(); !s.ok()) {
    return absl::DataLossError(absl::StrCat(dir, ": bad model shape: ", s.message()));
  }
  absl::StatusOr<Gpt> model = Gpt::Create(config, /*seed=*/0);
  if (!model.ok()) return model.status();
  if (absl::Status s = LoadCheckpointModel(dir, *model); !s.ok()) return s;

  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir, ec)) {
    return absl::InternalError(absl::StrCat("cannot create ", out_dir));
  }
  const fs::path out(out_dir);

  const int V = config.vocab_size, L = config.num_layers, C = config.channels;
  const int64_t maxT = config.max_seq_len;
  const std::span<const float> params = std::as_const(*model).params();
  std::vector<std::vector<float>> transposed;  // owns the Conv1D weights
  transposed.reserve(static_cast<size_t>(4 * L));
  std::vector<SafetensorsTensorView> tensors;
  auto add = [&](std::string name, std::vector<int64_t> shape, std::span<const float> data) {
    tensors.push_back({std::move(name), std::move(shape), data});
  };
  auto offset_of = [&](std::string_view field) -> size_t {
    for (const GptTensorInfo& t : GptLayout(config)) {
      if (t.name == field) return t.offset;
    }
    return 0;
  };
  const size_t c = static_cast<size_t>(C);
  add("transformer.wte.weight", {V, C}, params.subspan(offset_of("wte"), V * c));
  add("transformer.wpe.weight", {maxT, C}, params.subspan(offset_of("wpe"), maxT * c));
  // A per-layer vector of n floats.
  auto vec = [&](std::string_view field, int l, size_t n) {
    return params.subspan(offset_of(field) + l * n, n);
  };
  // Layer l of a stacked (out, in) matrix, transposed to Conv1D's (in, out).
  auto conv = [&](std::string_view field, int l, int rows, int cols) {
    const size_t n = static_cast<size_t>(rows) * cols;
    transposed.push_back(Transposed(params.subspan(offset_of(field) + l * n, n), rows, cols));
    return std::span<const float>(transposed.back());
  };
  for (int l = 0; l < L; l++) {
    const std::string h = absl::StrCat("transformer.h.", l, ".");
    add(h + "ln_1.weight", {C}, vec("ln1w", l, c));
    add(h + "ln_1.bias", {C}, vec("ln1b", l, c));
    add(h + "attn.c_attn.weight", {C, 3 * C}, conv("qkvw", l, 3 * C, C));
    add(h + "attn.c_attn.bias", {3 * C}, vec("qkvb", l, 3 * c));
    add(h + "attn.c_proj.weight", {C, C}, conv("attprojw", l, C, C));
    add(h + "attn.c_proj.bias", {C}, vec("attprojb", l, c));
    add(h + "ln_2.weight", {C}, vec("ln2w", l, c));
    add(h + "ln_2.bias", {C}, vec("ln2b", l, c));
    add(h + "mlp.c_fc.weight", {C, 4 * C}, conv("fcw", l, 4 * C, C));
    add(h + "mlp.c_fc.bias", {4 * C}, vec("fcb", l, 4 * c));
    add(h + "mlp.c_proj.weight", {4 * C, C}, conv("fcprojw", l, C, 4 * C));
    add(h + "mlp.c_proj.bias", {C}, vec("fcprojb", l, c));
  }
  add("transformer.ln_f.weight", {C}, params.subspan(offset_of("lnfw"), c));
  add("transformer.ln_f.bias", {C}, params.subspan(offset_of("lnfb"), c));
  if (absl::Status s = WriteSafetensors((out / "model.safetensors").string(), tensors, {});
      !s.ok()) {
    return s;
  }

  nlohmann::json hf_config = {
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"vocab_size", V},
      {"n_positions", config.max_seq_len},
      {"n_ctx", config.max_seq_len},
      {"n_embd", C},
      {"n_layer", L},
      {"n_head", config.num_heads},
      {"n_inner", nullptr},
      {"activation_function", "gelu_new"},
      {"layer_norm_epsilon", 1e-5},
      {"initializer_range", 0.02},
      {"resid_pdrop", 0.0},
      {"embd_pdrop", 0.0},
      {"attn_pdrop", 0.0},
      {"scale_attn_weights", true},
      {"tie_word_embeddings", true},
      {"torch_dtype", "float32"},
  };
  if (info->eot >= 0 && info->eot < V) {
    hf_config["bos_token_id"] = info->eot;
    hf_config["eos_token_id"] = info->eot;
    const nlohmann::json generation = {{"bos_token_id", info->eot}, {"eos_token_id", info->eot}};
    if (absl::Status s = WriteText(out / "generation_config.json", generation.dump(2) + "\n");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = WriteText(out / "config.json", hf_config.dump(2) + "\n"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> tokenizer_note = ExportTokenizer(info->tokenizer, out);
  if (!tokenizer_note.ok()) return tokenizer_note.status();
  const std::string readme = absl::StrCat(
      "# GPT-2 exported by winnow\n\n", "From checkpoint `", dir, "` (step ", info->step, "): ", L,
      " layers, ", config.num_heads, " heads, ", C, " channels, context ", config.max_seq_len,
      ", vocabulary ", V, ".\n\n", "    from transformers import GPT2LMHeadModel\n",
      "    model = GPT2LMHeadModel.from_pretrained(\"", out_dir, "\")\n\n", *tokenizer_note, "\n");
  return WriteText(out / "README.md", readme);
}

}  // namespace winnow::trainer
