// Writes a small model's parameters, a batch, our logits, loss and gradients, and the losses of
// ten AdamW steps, then the logits, loss and gradients of a batch of packed documents with the
// document mask on, for tests/tools/gpt_torch_parity.py to recompute in PyTorch. Disabled: the
// script runs it with --gtest_also_run_disabled_tests and WINNOW_GPT_PARITY_DIR set.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/model/gpt.h"
#include "trainer/model/optimizer.h"

namespace winnow::trainer {
namespace {

// A .npy file (format 1.0) of little-endian float32 ('<f4') or int32 ('<i4') values.
void WriteNpy(const std::string& path, const void* data, size_t count, const std::string& descr,
              const std::vector<size_t>& shape) {
  std::string dims;
  for (size_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // data starts 64-byte aligned
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&length), 2);
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(count * 4));
  ASSERT_TRUE(out.good()) << path;
}

TEST(GptParity, DISABLED_DumpForPyTorch) {
  const char* dir_env = std::getenv("WINNOW_GPT_PARITY_DIR");
  ASSERT_NE(dir_env, nullptr) << "set WINNOW_GPT_PARITY_DIR";
  const std::string dir = dir_env;

  GptConfig config;
  config.vocab_size = 101;
  config.padded_vocab_size = PaddedVocabSize(101);
  config.max_seq_len = 24;
  config.num_layers = 3;
  config.num_heads = 4;  // head size 12: not a multiple of the 8 SIMD lanes
  config.channels = 48;
  const int B = 3, T = 16;
  const float lr = 3e-3f, max_norm = 1.0f;
  const AdamWOptions options;
  const int steps = 10;

  absl::StatusOr<Gpt> created = Gpt::Create(config, 1234);
  ASSERT_TRUE(created.ok()) << created.status();
  Gpt& model = *created;
  std::mt19937 gen(99);
  std::uniform_int_distribution<int> id(0, config.vocab_size - 1);
  std::vector<int> tokens(B * T), targets(B * T);
  for (int& t : tokens) t = id(gen);
  for (int& t : targets) t = id(gen);
  targets[5] = targets[20] = targets[47] = -1;

  WriteNpy(dir + "/params.npy", model.params().data(), model.num_parameters(), "<f4",
           {model.num_parameters()});
  WriteNpy(dir + "/tokens.npy", tokens.data(), tokens.size(), "<i4", {B, T});
  WriteNpy(dir + "/targets.npy", targets.data(), targets.size(), "<i4", {B, T});

  model.ZeroGrad();
  absl::StatusOr<float> loss = model.Forward(tokens, targets, B, T);
  ASSERT_TRUE(loss.ok()) << loss.status();
  ASSERT_TRUE(model.Backward().ok());
  WriteNpy(dir + "/logits.npy", model.logits().data(), model.logits().size(), "<f4",
           {B, T, static_cast<size_t>(config.padded_vocab_size)});
  WriteNpy(dir + "/loss.npy", &*loss, 1, "<f4", {1});
  WriteNpy(dir + "/grads.npy", model.grads().data(), model.num_parameters(), "<f4",
           {model.num_parameters()});

  // Training: the loss before each step; gradients clipped to max_norm, then AdamW.
  std::vector<float> losses;
  AdamWState state;
  for (int step = 0; step < steps; step++) {
    model.ZeroGrad();
    losses.push_back(*model.Forward(tokens, targets, B, T));
    ASSERT_TRUE(model.Backward().ok());
    ClipGradNorm(model.grads(), max_norm);
    AdamWStep(model, state, lr, options);
  }
  WriteNpy(dir + "/train_losses.npy", losses.data(), losses.size(), "<f4", {losses.size()});
  WriteNpy(dir + "/trained_params.npy", model.params().data(), model.num_parameters(), "<f4",
           {model.num_parameters()});

  // Packed documents with the document mask, on the trained parameters: end-of-text (the last id)
  // mid-row, at a row's start and end, twice in a row, and a row without one.
  const int eot = config.vocab_size - 1;
  std::vector<int> packed = tokens;
  for (int& t : packed) t = t == eot ? 0 : t;
  for (int n : {4, 11, T + 0, T + 1, T + 9, T + 15}) packed[n] = eot;
  model.SetDocumentMask(eot);
  model.ZeroGrad();
  absl::StatusOr<float> masked_loss = model.Forward(packed, targets, B, T);
  ASSERT_TRUE(masked_loss.ok()) << masked_loss.status();
  ASSERT_TRUE(model.Backward().ok());
  WriteNpy(dir + "/masked_tokens.npy", packed.data(), packed.size(), "<i4", {B, T});
  WriteNpy(dir + "/masked_logits.npy", model.logits().data(), model.logits().size(), "<f4",
           {B, T, static_cast<size_t>(config.padded_vocab_size)});
  WriteNpy(dir + "/masked_loss.npy", &*masked_loss, 1, "<f4", {1});
  WriteNpy(dir + "/masked_grads.npy", model.grads().data(), model.num_parameters(), "<f4",
           {model.num_parameters()});

  std::ostringstream json;
  json.precision(9);  // floats round-trip
  json << "{\"vocab_size\": " << config.vocab_size
       << ", \"padded_vocab_size\": " << config.padded_vocab_size
       << ", \"max_seq_len\": " << config.max_seq_len << ", \"num_layers\": " << config.num_layers
       << ", \"num_heads\": " << config.num_heads << ", \"channels\": " << config.channels
       << ", \"lr\": " << lr << ", \"beta1\": " << options.beta1 << ", \"beta2\": " << options.beta2
       << ", \"eps\": " << options.eps << ", \"weight_decay\": " << options.weight_decay
       << ", \"max_norm\": " << max_norm << ", \"eot\": " << eot << ", \"tensors\": [";
  const std::vector<GptTensorInfo> layout = GptLayout(config);
  for (size_t i = 0; i < layout.size(); i++) {
    const GptTensorInfo& t = layout[i];
    json << (i ? ", " : "") << "{\"name\": \"" << t.name << "\", \"offset\": " << t.offset
         << ", \"weight_decay\": " << (t.weight_decay ? "true" : "false") << ", \"shape\": [";
    for (size_t d = 0; d < t.shape.size(); d++) json << (d ? ", " : "") << t.shape[d];
    json << "]}";
  }
  json << "]}\n";
  std::ofstream(dir + "/config.json") << json.str();
}

}  // namespace
}  // namespace winnow::trainer
