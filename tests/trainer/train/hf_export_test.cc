// The Hugging Face GPT-2 export (trainer/train/hf_export.h): names, shapes, the Conv1D transposes
// and the cropped vocabulary, read back from the written safetensors; config.json; the tokenizer
// files; a training --out folder. HfExport.DISABLED_WriteForTransformers writes an export plus our
// logits for tests/tools/hf_export_check.py (transformers' GPT2LMHeadModel).
#include "trainer/train/hf_export.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/util/temp_dir.h"
#include "trainer/model/gpt.h"
#include "trainer/train/checkpoint.h"
#include "trainer/train/safetensors.h"

namespace winnow::trainer {
namespace {

using winnow::testing::TempDir;

// L=2, NH=2, C=16, maxT=32, V=300 (padded to 384).
GptConfig SmallConfig() {
  GptConfig c;
  c.vocab_size = 300;
  c.padded_vocab_size = PaddedVocabSize(300);
  c.max_seq_len = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.channels = 16;
  return c;
}

// GPT-2's initialisation, then every parameter (biases and LayerNorm too) nudged so that a
// misplaced or untransposed tensor changes the logits; padded vocabulary rows stay zero.
Gpt RandomModel(const GptConfig& config) {
  absl::StatusOr<Gpt> model = Gpt::Create(config, 1234);
  EXPECT_TRUE(model.ok()) << model.status();
  std::mt19937 rng(99);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::span<float> p = model->params();
  const size_t padded_begin = static_cast<size_t>(config.vocab_size) * config.channels;
  const size_t padded_end = static_cast<size_t>(config.padded_vocab_size) * config.channels;
  for (size_t i = 0; i < p.size(); i++) {
    if (i >= padded_begin && i < padded_end) continue;  // wte comes first
    p[i] += noise(rng);
  }
  return std::move(*model);
}

std::string WriteTestCheckpoint(const Gpt& model, const std::string& out_dir,
                                const std::string& tokenizer, int64_t step) {
  CheckpointInfo info;
  info.step = step;
  info.model = model.config();
  info.tokenizer = tokenizer;
  info.eot = 256;
  absl::StatusOr<std::string> dir = WriteCheckpoint(out_dir, model, AdamWState{}, info, 3);
  EXPECT_TRUE(dir.ok()) << dir.status();
  return dir.ok() ? *dir : "";
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str(), nullptr, false);
}

TEST(HfExport, WritesHfNamesShapesTransposesAndCroppedVocabulary) {
  TempDir tmp;
  const GptConfig config = SmallConfig();
  Gpt model = RandomModel(config);
  std::filesystem::create_directories(tmp.Sub("tok"));
  std::ofstream(tmp.Sub("tok/tokenizer.json")) << R"({"model": {"type": "BPE"}})";
  const std::string ckpt = WriteTestCheckpoint(model, tmp.Sub("train"), tmp.Sub("tok"), 5);
  ASSERT_TRUE(ExportHf(ckpt, tmp.Sub("hf")).ok());

  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(tmp.Sub("hf/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("format"), "pt");
  const int V = config.vocab_size, C = config.channels, L = config.num_layers;
  EXPECT_EQ(file->tensors.size(), static_cast<size_t>(2 + 12 * L + 2));
  EXPECT_EQ(file->Find("lm_head.weight"), nullptr);  // tied to wte

  const std::span<const float> p = std::as_const(model).params();
  size_t offset_wte = 0, offset_wpe = 0, offset_qkvw = 0, offset_attprojw = 0, offset_fcw = 0,
         offset_fcprojw = 0, offset_qkvb = 0, offset_lnfb = 0;
  for (const GptTensorInfo& t : GptLayout(config)) {
    if (t.name == "wte") offset_wte = t.offset;
    if (t.name == "wpe") offset_wpe = t.offset;
    if (t.name == "qkvw") offset_qkvw = t.offset;
    if (t.name == "qkvb") offset_qkvb = t.offset;
    if (t.name == "attprojw") offset_attprojw = t.offset;
    if (t.name == "fcw") offset_fcw = t.offset;
    if (t.name == "fcprojw") offset_fcprojw = t.offset;
    if (t.name == "lnfb") offset_lnfb = t.offset;
  }

  const SafetensorsTensor* wte = file->Find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{V, C}));
  EXPECT_EQ(wte->data, std::vector<float>(p.begin() + offset_wte,
                                          p.begin() + offset_wte + static_cast<size_t>(V) * C));
  const SafetensorsTensor* wpe = file->Find("transformer.wpe.weight");
  ASSERT_NE(wpe, nullptr);
  EXPECT_EQ(wpe->shape, (std::vector<int64_t>{config.max_seq_len, C}));
  EXPECT_EQ(wpe->data[7], p[offset_wpe + 7]);

  // HF Conv1D weight[in][out] == our weight[out][in], for every layer.
  struct Conv {
    const char* name;
    size_t offset;
    int out, in;
  };
  const Conv convs[] = {{"attn.c_attn", offset_qkvw, 3 * C, C},
                        {"attn.c_proj", offset_attprojw, C, C},
                        {"mlp.c_fc", offset_fcw, 4 * C, C},
                        {"mlp.c_proj", offset_fcprojw, C, 4 * C}};
  for (int l = 0; l < L; l++) {
    for (const Conv& conv : convs) {
      const std::string name = absl::StrCat("transformer.h.", l, ".", conv.name, ".weight");
      const SafetensorsTensor* w = file->Find(name);
      ASSERT_NE(w, nullptr) << name;
      EXPECT_EQ(w->shape, (std::vector<int64_t>{conv.in, conv.out})) << name;
      const size_t base = conv.offset + static_cast<size_t>(l) * conv.out * conv.in;
      int mismatches = 0;
      for (int o = 0; o < conv.out; o++) {
        for (int i = 0; i < conv.in; i++) {
          if (w->data[static_cast<size_t>(i) * conv.out + o] !=
              p[base + static_cast<size_t>(o) * conv.in + i]) {
            mismatches++;
          }
        }
      }
      EXPECT_EQ(mismatches, 0) << name;
    }
    for (const char* name : {"ln_1.weight", "ln_1.bias", "attn.c_attn.bias", "attn.c_proj.bias",
                             "ln_2.weight", "ln_2.bias", "mlp.c_fc.bias", "mlp.c_proj.bias"}) {
      EXPECT_NE(file->Find(absl::StrCat("transformer.h.", l, ".", name)), nullptr) << name;
    }
  }
  const SafetensorsTensor* qkvb = file->Find("transformer.h.1.attn.c_attn.bias");
  ASSERT_NE(qkvb, nullptr);
  EXPECT_EQ(qkvb->shape, (std::vector<int64_t>{3 * C}));
  EXPECT_EQ(qkvb->data[5], p[offset_qkvb + 3 * C + 5]);
  const SafetensorsTensor* lnfb = file->Find("transformer.ln_f.bias");
  ASSERT_NE(lnfb, nullptr);
  EXPECT_EQ(lnfb->data[3], p[offset_lnfb + 3]);

  const nlohmann::json hf = ReadJson(tmp.Sub("hf/config.json"));
  ASSERT_TRUE(hf.is_object());
  EXPECT_EQ(hf["model_type"], "gpt2");
  EXPECT_EQ(hf["vocab_size"], V);
  EXPECT_EQ(hf["n_positions"], config.max_seq_len);
  EXPECT_EQ(hf["n_embd"], C);
  EXPECT_EQ(hf["n_layer"], L);
  EXPECT_EQ(hf["n_head"], config.num_heads);
  EXPECT_EQ(hf["activation_function"], "gelu_new");
  EXPECT_DOUBLE_EQ(hf["layer_norm_epsilon"].get<double>(), 1e-5);
  EXPECT_EQ(hf["eos_token_id"], 256);
  EXPECT_EQ(ReadJson(tmp.Sub("hf/generation_config.json"))["eos_token_id"], 256);
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("hf/tokenizer.json")));
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("hf/README.md")));
}

TEST(HfExport, TakesATrainingOutFolderAndUsesItsNewestCheckpoint) {
  TempDir tmp;
  const GptConfig config = SmallConfig();
  Gpt model = RandomModel(config);
  WriteTestCheckpoint(model, tmp.Sub("train"), "gpt2", 5);
  size_t offset_wpe = 0;
  for (const GptTensorInfo& t : GptLayout(config)) {
    if (t.name == "wpe") offset_wpe = t.offset;
  }
  model.params()[offset_wpe] = 42.0f;
  WriteTestCheckpoint(model, tmp.Sub("train"), "gpt2", 9);
  ASSERT_TRUE(ExportHf(tmp.Sub("train"), tmp.Sub("hf")).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(tmp.Sub("hf/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_NE(file->Find("transformer.wpe.weight"), nullptr);
  EXPECT_EQ(file->Find("transformer.wpe.weight")->data[0], 42.0f);
  // A named encoding: no tokenizer files, the README says which one.
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("hf/tokenizer.json")));
  std::ifstream readme(tmp.Sub("hf/README.md"));
  std::stringstream text;
  text << readme.rdbuf();
  EXPECT_NE(text.str().find("step 9"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("gpt2"), std::string::npos) << text.str();
}

TEST(HfExport, MissingCheckpointIsNotFound) {
  TempDir tmp;
  EXPECT_EQ(ExportHf(tmp.Sub("nope"), tmp.Sub("hf")).code(), absl::StatusCode::kNotFound);
  std::filesystem::create_directories(tmp.Sub("empty"));
  EXPECT_EQ(ExportHf(tmp.Sub("empty"), tmp.Sub("hf")).code(), absl::StatusCode::kNotFound);
}

// For tests/tools/hf_export_check.py: WINNOW_HF_EXPORT_DIR/hf (the export) and
// WINNOW_HF_EXPORT_DIR/ours.json ({"batch", "seq_len", "vocab_size", "tokens", "logits"}: our
// logits cropped to the vocabulary, B·T·V floats).
TEST(HfExport, DISABLED_WriteForTransformers) {
  const char* env = std::getenv("WINNOW_HF_EXPORT_DIR");
  ASSERT_NE(env, nullptr) << "set WINNOW_HF_EXPORT_DIR";
  const std::string out(env);
  const GptConfig config = SmallConfig();
  Gpt model = RandomModel(config);
  const std::string ckpt = WriteTestCheckpoint(model, out + "/train", "gpt2", 1);
  ASSERT_TRUE(ExportHf(ckpt, out + "/hf").ok());
  const int B = 2, T = 24, V = config.vocab_size, Vp = config.padded_vocab_size;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> id(0, V - 1);
  std::vector<int> tokens(static_cast<size_t>(B) * T);
  for (int& t : tokens) t = id(rng);
  ASSERT_TRUE(model.Forward(tokens, {}, B, T).ok());
  const std::span<const float> logits = model.logits();
  std::vector<float> cropped;
  for (int bt = 0; bt < B * T; bt++) {
    for (int v = 0; v < V; v++) cropped.push_back(logits[static_cast<size_t>(bt) * Vp + v]);
  }
  const nlohmann::json j = {
      {"batch", B}, {"seq_len", T}, {"vocab_size", V}, {"tokens", tokens}, {"logits", cropped}};
  std::ofstream(out + "/ours.json") << j.dump() << "\n";
}

}  // namespace
}  // namespace winnow::trainer
