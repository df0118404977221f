// trainer/train/hf_export.h — a training checkpoint (checkpoint.h) as a Hugging Face GPT-2 folder
// that transformers' GPT2LMHeadModel.from_pretrained loads:
//   model.safetensors        transformer.wte.weight (cropped to vocab_size rows), transformer.wpe
//                            .weight,
//                            transformer.h.{i}.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,
//                            mlp.c_proj}.{weight,bias}, transformer.ln_f.{weight,bias}; the Conv1D
//                            weights (c_attn, c_proj, c_fc) transposed to (in, out). No
//                            lm_head.weight: GPT2LMHeadModel ties it to wte. Metadata "format":
//                            "pt".
//   config.json              model_type gpt2, the shape, gelu_new, layer_norm_epsilon 1e-5
//   generation_config.json   bos/eos = the checkpoint's end-of-text id (when known)
//   tokenizer files          tokenizer.json copied from a tokenizer folder (or
//   PATH/tokenizer.json),
//                            or encoder.json/vocab.bpe as vocab.json/merges.txt; a named encoding
//                            (gpt2, cl100k_base, …) or a .tiktoken rank file is only described in
//                            README.md, which every export has.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace winnow::trainer {

// CHECKPOINT_DIR is a step_NNNNNN folder, or a training --out folder (its newest checkpoint is
// used). OUT_DIR is created if needed; files in it are replaced. NotFound when there is no
// checkpoint, DataLoss for a damaged one, Internal when writing fails.
absl::Status ExportHf(const std::string& checkpoint_dir, const std::string& out_dir);

}  // namespace winnow::trainer
