#include "trainer/model/gpt.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <numbers>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/model/gpt_ops.h"

namespace winnow::trainer {
namespace {

// SplitMix64 with Box–Muller on top: a small generator whose stream depends only on the seed
// (std::normal_distribution differs between standard libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(1.0 - Uniform()));  // 1 − u ∈ (0, 1]
    const double angle = 2.0 * std::numbers::pi * Uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// The tensors of one layer l, as pointers into a GptTensors buffer.
struct Layer {
  float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw,
      *fcprojb;
};
Layer LayerOf(const GptTensors& t, int l, size_t C) {
  return {t.ln1w + l * C,
          t.ln1b + l * C,
          t.qkvw + l * 3 * C * C,
          t.qkvb + l * 3 * C,
          t.attprojw + l * C * C,
          t.attprojb + l * C,
          t.ln2w + l * C,
          t.ln2b + l * C,
          t.fcw + l * 4 * C * C,
          t.fcb + l * 4 * C,
          t.fcprojw + l * 4 * C * C,
          t.fcprojb + l * C};
}

}  // namespace

std::vector<GptTensorInfo> GptLayout(const GptConfig& config) {
  const int V = config.padded_vocab_size, T = config.max_seq_len, L = config.num_layers,
            C = config.channels;
  std::vector<GptTensorInfo> layout = {
      {"wte", {V, C}, 0, 0, true},
      {"wpe", {T, C}, 0, 0, true},
      {"ln1w", {L, C}},
      {"ln1b", {L, C}},
      {"qkvw", {L, 3 * C, C}, 0, 0, true},
      {"qkvb", {L, 3 * C}},
      {"attprojw", {L, C, C}, 0, 0, true},
      {"attprojb", {L, C}},
      {"ln2w", {L, C}},
      {"ln2b", {L, C}},
      {"fcw", {L, 4 * C, C}, 0, 0, true},
      {"fcb", {L, 4 * C}},
      {"fcprojw", {L, C, 4 * C}, 0, 0, true},
      {"fcprojb", {L, C}},
      {"lnfw", {C}},
      {"lnfb", {C}},
  };
  size_t offset = 0;
  for (GptTensorInfo& t : layout) {
    t.offset = offset;
    t.size = 1;
    for (int d : t.shape) t.size *= static_cast<size_t>(d);
    offset += t.size;
  }
  return layout;
}

size_t GptNumParameters(const GptConfig& config) {
  const GptTensorInfo& last = GptLayout(config).back();
  return last.offset + last.size;
}

GptTensors GptTensorViews(const GptConfig& config, float* buffer) {
  std::vector<GptTensorInfo> layout = GptLayout(config);
  float* at[16];
  for (size_t i = 0; i < layout.size(); i++) at[i] = buffer + layout[i].offset;
  return {at[0], at[1], at[2],  at[3],  at[4],  at[5],  at[6],  at[7],
          at[8], at[9], at[10], at[11], at[12], at[13], at[14], at[15]};
}

// The activations Forward keeps for Backward, and Backward's own scratch. Shapes with N = B·T.
struct Gpt::Buffers {
  int B = 0, T = 0;
  std::vector<int> tokens;     // (B, T)
  std::vector<int> targets;    // (B, T), empty when Forward had none
  std::vector<int> doc_start;  // (B, T) first position each attends to; empty: plain causal
  int counted = 0;             // targets ≠ −1

  std::vector<float> memory;
  float* encoded;  // (N, C)       token + position embeddings: the residual stream entering layer 0
  float* ln1;      // (L, N, C)    per layer, as in llm.c:
  float* ln1_mean;   // (L, N)
  float* ln1_rstd;   // (L, N)
  float* qkv;        // (L, N, 3C)
  float* atty;       // (L, N, C)    attention output, before its projection
  float* att;        // (L, B, NH, T, T) attention probabilities
  float* attproj;    // (L, N, C)
  float* residual2;  // (L, N, C)    residual + attention branch
  float* ln2;        // (L, N, C)
  float* ln2_mean;   // (L, N)
  float* ln2_rstd;   // (L, N)
  float* fch;        // (L, N, 4C)   MLP hidden, before GELU
  float* fch_gelu;   // (L, N, 4C)
  float* fcproj;     // (L, N, C)
  float* residual3;  // (L, N, C)    residual2 + MLP branch: the stream leaving the layer
  float* lnf;        // (N, C)
  float* lnf_mean;   // (N)
  float* lnf_rstd;   // (N)
  float* logits;     // (N, Vp)
  float* lse;        // (N)          log-sum-exp of each row's first V logits
  float* losses;     // (N)

  // Backward: one gradient buffer per shape, reused by every layer. The residual stream's gradient
  // is a single buffer too: a residual add passes its gradient unchanged to both inputs, so each
  // branch's input gradient is simply added to it.
  std::vector<float> grad_memory;
  float* dlogits;    // (N, Vp)
  float* dresidual;  // (N, C)
  float* dln;        // (N, C)   d of a LayerNorm output (ln1, ln2 or lnf)
  float* datty;      // (N, C)
  float* dqkv;       // (N, 3C)
  float* dfch;       // (N, 4C)
  float* dfch_gelu;  // (N, 4C)

  // Per layer l, the slice of each stacked activation.
  struct LayerActs {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *residual2, *ln2, *ln2_mean,
        *ln2_rstd, *fch, *fch_gelu, *fcproj, *residual3;
  };
  LayerActs Layer(int l, const GptConfig& c) const {
    const size_t N = static_cast<size_t>(B) * T, C = c.channels;
    const size_t att_size = static_cast<size_t>(B) * c.num_heads * T * T;
    return {ln1 + l * N * C,          ln1_mean + l * N,      ln1_rstd + l * N,
            qkv + l * N * 3 * C,      atty + l * N * C,      att + l * att_size,
            attproj + l * N * C,      residual2 + l * N * C, ln2 + l * N * C,
            ln2_mean + l * N,         ln2_rstd + l * N,      fch + l * N * 4 * C,
            fch_gelu + l * N * 4 * C, fcproj + l * N * C,    residual3 + l * N * C};
  }

  // Points each view at its slice of `storage`, which is resized to hold them all.
  static void Carve(std::vector<float>& storage,
                    std::initializer_list<std::pair<float**, size_t>> views) {
    size_t total = 0;
    for (const auto& [view, size] : views) total += size;
    storage.assign(total, 0.0f);
    float* at = storage.data();
    for (const auto& [view, size] : views) {
      *view = at;
      at += size;
    }
  }

  void Allocate(const GptConfig& c, int batch, int seq) {
    B = batch;
    T = seq;
    const size_t N = static_cast<size_t>(B) * T, C = c.channels, L = c.num_layers;
    const size_t att_size = static_cast<size_t>(B) * c.num_heads * T * T;
    Carve(memory, {{&encoded, N * C},
                   {&ln1, L * N * C},
                   {&ln1_mean, L * N},
                   {&ln1_rstd, L * N},
                   {&qkv, L * N * 3 * C},
                   {&atty, L * N * C},
                   {&att, L * att_size},
                   {&attproj, L * N * C},
                   {&residual2, L * N * C},
                   {&ln2, L * N * C},
                   {&ln2_mean, L * N},
                   {&ln2_rstd, L * N},
                   {&fch, L * N * 4 * C},
                   {&fch_gelu, L * N * 4 * C},
                   {&fcproj, L * N * C},
                   {&residual3, L * N * C},
                   {&lnf, N * C},
                   {&lnf_mean, N},
                   {&lnf_rstd, N},
                   {&logits, N * c.padded_vocab_size},
                   {&lse, N},
                   {&losses, N}});
    grad_memory.clear();
    grad_memory.shrink_to_fit();
  }

  void AllocateGrads(const GptConfig& c) {
    if (!grad_memory.empty()) return;
    const size_t N = static_cast<size_t>(B) * T, C = c.channels;
    Carve(grad_memory, {{&dlogits, N * c.padded_vocab_size},
                        {&dresidual, N * C},
                        {&dln, N * C},
                        {&datty, N * C},
                        {&dqkv, N * 3 * C},
                        {&dfch, N * 4 * C},
                        {&dfch_gelu, N * 4 * C}});
  }
};

Gpt::Gpt(const GptConfig& config)
    : config_(config),
      params_(GptNumParameters(config), 0.0f),
      grads_(params_.size(), 0.0f),
      buffers_(std::make_unique<Buffers>()) {}
Gpt::Gpt(Gpt&&) noexcept = default;
Gpt& Gpt::operator=(Gpt&&) noexcept = default;
Gpt::~Gpt() = default;

absl::StatusOr<Gpt> Gpt::Create(const GptConfig& config, uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  Gpt model(config);
  // GPT-2's initialisation (as in nanoGPT and llm.c's train_gpt2.py). Tensors are drawn in layout
  // order; padded vocabulary rows are not drawn, so the padding does not change the other values.
  const double kStd = 0.02;
  const double residual_std = kStd / std::sqrt(2.0 * config.num_layers);
  Rng rng(seed);
  for (const GptTensorInfo& t : GptLayout(config)) {
    float* p = model.params_.data() + t.offset;
    size_t n = t.size;
    if (t.name == "wte") n = static_cast<size_t>(config.vocab_size) * config.channels;
    if (t.weight_decay) {  // the embeddings and weight matrices
      const double std = (t.name == "attprojw" || t.name == "fcprojw") ? residual_std : kStd;
      for (size_t i = 0; i < n; i++) p[i] = static_cast<float>(std * rng.Normal());
    } else if (t.name == "ln1w" || t.name == "ln2w" || t.name == "lnfw") {
      std::fill(p, p + n, 1.0f);
    }  // biases stay 0
  }
  return model;
}

absl::Status CheckTokens(std::span<const int> tokens, std::span<const int> targets, int N, int V) {
  if (tokens.size() != static_cast<size_t>(N) ||
      (!targets.empty() && targets.size() != tokens.size())) {
    return absl::InvalidArgumentError(absl::StrCat("got ", tokens.size(), " tokens and ",
                                                   targets.size(), " targets for B·T = ", N));
  }
  for (int n = 0; n < N; n++) {
    if (tokens[n] < 0 || tokens[n] >= V) {
      return absl::InvalidArgumentError(
          absl::StrCat("token ", tokens[n], " at ", n, " is outside the vocabulary [0, ", V, ")"));
    }
    if (!targets.empty() && (targets[n] < -1 || targets[n] >= V)) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", targets[n], " at ", n, " is neither −1 nor in [0, ", V, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<float> Gpt::Forward(std::span<const int> tokens, std::span<const int> targets, int B,
                                   int T) {
  const int V = config_.vocab_size, Vp = config_.padded_vocab_size, L = config_.num_layers,
            NH = config_.num_heads, C = config_.channels;
  if (B < 1 || T < 1 || T > config_.max_seq_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch shape B=", B, " T=", T, ": need B ≥ 1, 1 ≤ T ≤ ", config_.max_seq_len));
  }
  const int N = B * T;
  if (absl::Status s = CheckTokens(tokens, targets, N, V); !s.ok()) return s;
  Buffers& a = *buffers_;
  if (a.B != B || a.T != T) a.Allocate(config_, B, T);
  a.tokens.assign(tokens.begin(), tokens.end());
  a.targets.assign(targets.begin(), targets.end());
  a.doc_start.clear();
  if (document_mask_eot_ >= 0) {
    a.doc_start.resize(N);
    cpu::DocumentStarts(a.doc_start.data(), a.tokens.data(), B, T, document_mask_eot_);
  }
  const int* doc_start = a.doc_start.empty() ? nullptr : a.doc_start.data();

  const GptTensors p = param_tensors();
  cpu::EncoderForward(a.encoded, a.tokens.data(), p.wte, p.wpe, B, T, C);
  const float* residual = a.encoded;
  for (int l = 0; l < L; l++) {
    const Layer w = LayerOf(p, l, C);
    const Buffers::LayerActs x = a.Layer(l, config_);
    // Attention branch: residual2 = residual + attproj(attention(qkv(ln1(residual)))).
    cpu::LayerNormForward(x.ln1, x.ln1_mean, x.ln1_rstd, residual, w.ln1w, w.ln1b, N, C);
    cpu::MatmulForward(x.qkv, x.ln1, w.qkvw, w.qkvb, N, C, 3 * C);
    cpu::AttentionForward(x.atty, x.att, x.qkv, B, T, C, NH, doc_start);
    cpu::MatmulForward(x.attproj, x.atty, w.attprojw, w.attprojb, N, C, C);
    cpu::ResidualForward(x.residual2, residual, x.attproj, N * C);
    // MLP branch: residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))).
    cpu::LayerNormForward(x.ln2, x.ln2_mean, x.ln2_rstd, x.residual2, w.ln2w, w.ln2b, N, C);
    cpu::MatmulForward(x.fch, x.ln2, w.fcw, w.fcb, N, C, 4 * C);
    cpu::GeluForward(x.fch_gelu, x.fch, N * 4 * C);
    cpu::MatmulForward(x.fcproj, x.fch_gelu, w.fcprojw, w.fcprojb, N, 4 * C, C);
    cpu::ResidualForward(x.residual3, x.residual2, x.fcproj, N * C);
    residual = x.residual3;
  }
  cpu::LayerNormForward(a.lnf, a.lnf_mean, a.lnf_rstd, residual, p.lnfw, p.lnfb, N, C);
  cpu::MatmulForward(a.logits, a.lnf, p.wte, /*bias=*/nullptr, N, C, Vp);  // tied LM head

  a.counted = 0;
  if (a.targets.empty()) return 0.0f;
  cpu::CrossEntropyForward(a.losses, a.lse, a.logits, a.targets.data(), N, V, Vp);
  double sum = 0;  // in order, so the loss does not depend on threads
  for (int n = 0; n < N; n++) {
    if (a.targets[n] < 0) continue;
    sum += a.losses[n];
    a.counted++;
  }
  return a.counted > 0 ? static_cast<float>(sum / a.counted) : 0.0f;
}

std::span<const float> Gpt::logits() const {
  const Buffers& a = *buffers_;
  return {a.logits, static_cast<size_t>(a.B) * a.T * config_.padded_vocab_size};
}

absl::Status Gpt::Backward() {
  Buffers& a = *buffers_;
  if (a.B == 0 || a.targets.empty()) {
    return absl::FailedPreconditionError("Backward needs a Forward with targets first");
  }
  if (a.counted == 0) return absl::OkStatus();  // every target ignored: the loss is a constant
  a.AllocateGrads(config_);
  const int B = a.B, T = a.T, N = B * T, V = config_.vocab_size, Vp = config_.padded_vocab_size,
            L = config_.num_layers, NH = config_.num_heads, C = config_.channels;
  auto zero = [](float* x, size_t n) { std::fill(x, x + n, 0.0f); };
  const GptTensors p = param_tensors();
  const GptTensors g = grad_tensors();
  const int* doc_start = a.doc_start.empty() ? nullptr : a.doc_start.data();

  // loss = mean over the counted positions of losses[n], so d(loss)/d(losses[n]) = 1/counted.
  zero(a.dlogits, static_cast<size_t>(N) * Vp);
  cpu::CrossEntropyBackward(a.dlogits, a.logits, a.lse, a.targets.data(), 1.0f / a.counted, N, V,
                            Vp);
  zero(a.dln, static_cast<size_t>(N) * C);
  cpu::MatmulBackward(a.dln, g.wte, /*dbias=*/nullptr, a.dlogits, a.lnf, p.wte, N, C, Vp);
  const float* last = L > 0 ? a.Layer(L - 1, config_).residual3 : a.encoded;
  zero(a.dresidual, static_cast<size_t>(N) * C);
  cpu::LayerNormBackward(a.dresidual, g.lnfw, g.lnfb, a.dln, last, p.lnfw, a.lnf_mean, a.lnf_rstd,
                         N, C);

  for (int l = L - 1; l >= 0; l--) {
    const Layer w = LayerOf(p, l, C);
    const Layer dw = LayerOf(g, l, C);
    const Buffers::LayerActs x = a.Layer(l, config_);
    const float* residual = l == 0 ? a.encoded : a.Layer(l - 1, config_).residual3;
    // MLP branch; dresidual is d(residual3), which is also d(fcproj).
    zero(a.dfch_gelu, static_cast<size_t>(N) * 4 * C);
    cpu::MatmulBackward(a.dfch_gelu, dw.fcprojw, dw.fcprojb, a.dresidual, x.fch_gelu, w.fcprojw, N,
                        4 * C, C);
    zero(a.dfch, static_cast<size_t>(N) * 4 * C);
    cpu::GeluBackward(a.dfch, x.fch, a.dfch_gelu, N * 4 * C);
    zero(a.dln, static_cast<size_t>(N) * C);
    cpu::MatmulBackward(a.dln, dw.fcw, dw.fcb, a.dfch, x.ln2, w.fcw, N, C, 4 * C);
    cpu::LayerNormBackward(a.dresidual, dw.ln2w, dw.ln2b, a.dln, x.residual2, w.ln2w, x.ln2_mean,
                           x.ln2_rstd, N, C);
    // Attention branch; dresidual is now d(residual2), which is also d(attproj).
    zero(a.datty, static_cast<size_t>(N) * C);
    cpu::MatmulBackward(a.datty, dw.attprojw, dw.attprojb, a.dresidual, x.atty, w.attprojw, N, C,
                        C);
    zero(a.dqkv, static_cast<size_t>(N) * 3 * C);
    cpu::AttentionBackward(a.dqkv, a.datty, x.qkv, x.att, B, T, C, NH, doc_start);
    zero(a.dln, static_cast<size_t>(N) * C);
    cpu::MatmulBackward(a.dln, dw.qkvw, dw.qkvb, a.dqkv, x.ln1, w.qkvw, N, C, 3 * C);
    cpu::LayerNormBackward(a.dresidual, dw.ln1w, dw.ln1b, a.dln, residual, w.ln1w, x.ln1_mean,
                           x.ln1_rstd, N, C);
    // dresidual is now d(residual), the stream entering layer l.
  }
  cpu::EncoderBackward(g.wte, g.wpe, a.dresidual, a.tokens.data(), B, T, C);
  return absl::OkStatus();
}

void Gpt::ZeroGrad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

}  // namespace winnow::trainer
