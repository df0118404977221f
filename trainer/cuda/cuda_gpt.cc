#include "trainer/cuda/cuda_gpt.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "trainer/cuda/internal/kernels.h"
#include "trainer/cuda/internal/matmul.h"
#include "trainer/model/gpt.h"

namespace winnow::trainer {
namespace {

using cuda::bf16;
using cuda::CudaStatus;

// Returns the Status of a cudaError_t-returning call (a CUDA runtime call or a kernel launcher),
// naming it.
#define WINNOW_CUDA_TRY(what, call)                         \
  do {                                                      \
    if (cudaError_t e_ = (call); e_ != cudaSuccess) {       \
      return ::winnow::trainer::cuda::CudaStatus(e_, what); \
    }                                                       \
  } while (0)
#define WINNOW_RETURN_IF_ERROR(expr)          \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (0)

constexpr size_t kAlign = 256;  // bytes: every carved buffer starts on this boundary
size_t RoundUp(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

bool CudaDeviceAvailable(std::string* why_not) {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    if (why_not != nullptr) {
      *why_not = absl::StrCat("no usable CUDA driver or device: ", cudaGetErrorName(e), " (",
                              cudaGetErrorString(e), ")");
    }
    cudaGetLastError();  // clear it
    return false;
  }
  if (count == 0) {
    if (why_not != nullptr) *why_not = "no CUDA device";
    return false;
  }
  cudaDeviceProp prop{};
  if (cudaError_t e = cudaGetDeviceProperties(&prop, 0); e != cudaSuccess) {
    if (why_not != nullptr)
      *why_not = absl::StrCat("cudaGetDeviceProperties: ", cudaGetErrorName(e));
    cudaGetLastError();  // clear it, or the next launch check would report it
    return false;
  }
  if (prop.major < 9) {
    if (why_not != nullptr) {
      *why_not = absl::StrCat(prop.name, " has compute capability ", prop.major, ".", prop.minor,
                              "; this build's kernels need ≥ 9.0 (CMAKE_CUDA_ARCHITECTURES 90)");
    }
    return false;
  }
  return true;
}

std::string CudaDeviceName() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return "";
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return prop.name;
}

double CudaPeakBf16Tflops() {
  const std::string name = CudaDeviceName();
  const bool nvl = absl::StrContains(name, "NVL");
  if (absl::StrContains(name, "H200")) return nvl ? 835.5 : 989.4;
  if (absl::StrContains(name, "H100")) {
    if (nvl) return 835.5;
    if (absl::StrContains(name, "PCIe")) return 756.5;
    return 989.4;  // SXM (HBM3)
  }
  return 0;
}

// Everything on the device. Shapes use Nm = max_batch·max_seq rows; a Forward of B·T ≤ Nm rows
// uses the first B·T of each, and layer l's slice of a stacked activation starts at l·Nm rows.
struct CudaGpt::Impl {
  GptConfig config;
  std::vector<GptTensorInfo> layout;
  std::vector<size_t> bf16_offsets;  // each tensor's offset in params_bf16, 128-element aligned
  size_t num_params = 0;
  int max_batch = 0, max_seq = 0;
  int eot = -1;

  cudaStream_t stream = nullptr;
  std::unique_ptr<cuda::Matmuls> matmuls;
  void* memory = nullptr;

  // Parameters and optimizer (GptLayout order).
  float* params = nullptr;  // (P) fp32 master weights
  float* grads = nullptr;   // (P)
  float* m = nullptr;       // (P) AdamW first moment
  float* v = nullptr;       // (P) AdamW second moment
  bf16* params_bf16 = nullptr;
  int64_t adam_step = 0;

  // Inputs of the last Forward.
  int* tokens = nullptr;         // (Nm)
  int* targets = nullptr;        // (Nm)
  int* doc_start = nullptr;      // (Nm)
  int* enc_unique = nullptr;     // (Nm)    distinct tokens, for the embedding's backward scatter
  int* enc_offsets = nullptr;    // (Nm+1)
  int* enc_positions = nullptr;  // (Nm)
  // Activations.
  bf16* encoded = nullptr;  // (Nm, C)
  bf16* ln1 = nullptr;      // (L, Nm, C)
  float* ln1_mean = nullptr;
  float* ln1_rstd = nullptr;  // (L, Nm)
  bf16* qkv = nullptr;        // (L, Nm, 3C)
  bf16* atty = nullptr;       // (L, Nm, C)
  float* att_lse = nullptr;   // (L, B, NH, T) in Nm·NH per layer
  bf16* residual2 = nullptr;  // (L, Nm, C)
  bf16* ln2 = nullptr;        // (L, Nm, C)
  float* ln2_mean = nullptr;
  float* ln2_rstd = nullptr;  // (L, Nm)
  bf16* fch = nullptr;        // (L, Nm, 4C)
  bf16* fch_gelu = nullptr;   // (L, Nm, 4C)
  bf16* residual3 = nullptr;  // (L, Nm, C)
  bf16* lnf = nullptr;        // (Nm, C)
  float* lnf_mean = nullptr;
  float* lnf_rstd = nullptr;  // (Nm)
  bf16* logits = nullptr;     // (Nm, Vp), turned into dlogits by Backward
  float* lse = nullptr;       // (Nm)
  float* losses = nullptr;    // (Nm)
  bf16* proj = nullptr;       // (Nm, C) attproj / fcproj output before the residual add
  // Backward.
  float* dresidual = nullptr;       // (Nm, C) the residual stream's gradient, fp32
  bf16* dresidual_bf16 = nullptr;   // (Nm, C) its bf16 copy for the matmuls
  bf16* dln = nullptr;              // (Nm, C)
  bf16* datty = nullptr;            // (Nm, C)
  bf16* dqkv = nullptr;             // (Nm, 3C)
  bf16* dfch = nullptr;             // (Nm, 4C)
  float* att_delta = nullptr;       // (Nm·NH)
  float* colsum_scratch = nullptr;  // column-sum partials
  double* norm_scratch = nullptr;   // (kGradNormBlocks)
  double* norm_out = nullptr;       // (1)

  // Host side of the last Forward.
  int B = 0, T = 0;
  bool has_targets = false;
  bool logits_valid = false;
  int counted = 0;
  std::vector<float> host_losses;
  int host_enc_unique = 0;  // distinct tokens of the last Forward

  size_t Nm() const { return static_cast<size_t>(max_batch) * max_seq; }
  const GptTensorInfo& Tensor(std::string_view name) const {
    for (const GptTensorInfo& t : layout) {
      if (t.name == name) return t;
    }
    return layout.front();  // unreachable: every name below exists
  }
  float* P(float* base, std::string_view name) const { return base + Tensor(name).offset; }
  bf16* Pb(std::string_view name) const {
    for (size_t i = 0; i < layout.size(); i++) {
      if (layout[i].name == name) return params_bf16 + bf16_offsets[i];
    }
    return params_bf16;
  }

  ~Impl() {
    matmuls.reset();
    if (memory != nullptr) cudaFree(memory);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  absl::Status Allocate();
  absl::Status Upload(std::span<const float> host);
  absl::Status Sync(const char* what) {
    WINNOW_CUDA_TRY(what, cudaStreamSynchronize(stream));
    return absl::OkStatus();
  }
};

absl::Status CudaGpt::Impl::Allocate() {
  const size_t N = Nm(), C = config.channels, L = config.num_layers, NH = config.num_heads,
               Vp = config.padded_vocab_size, P = num_params;
  size_t bf16_total = 0;
  for (const GptTensorInfo& t : layout) {
    bf16_offsets.push_back(bf16_total);
    bf16_total += (t.size + 127) / 128 * 128;
  }
  const size_t colsum =
      std::max(2 * cuda::ColumnSumScratchFloats(static_cast<int>(N), static_cast<int>(C)),
               cuda::ColumnSumScratchFloats(static_cast<int>(N), static_cast<int>(4 * C)));
  struct Slot {
    void** at;
    size_t bytes;
  };
  auto f = [](float** p, size_t n) { return Slot{reinterpret_cast<void**>(p), n * sizeof(float)}; };
  auto h = [](bf16** p, size_t n) { return Slot{reinterpret_cast<void**>(p), n * 2}; };
  auto i = [](int** p, size_t n) { return Slot{reinterpret_cast<void**>(p), n * sizeof(int)}; };
  auto d = [](double** p, size_t n) {
    return Slot{reinterpret_cast<void**>(p), n * sizeof(double)};
  };
  const std::initializer_list<Slot> slots = {
      f(&params, P),
      f(&grads, P),
      f(&m, P),
      f(&v, P),
      h(&params_bf16, bf16_total),
      i(&tokens, N),
      i(&targets, N),
      i(&doc_start, N),
      i(&enc_unique, N),
      i(&enc_offsets, N + 1),
      i(&enc_positions, N),
      h(&encoded, N * C),
      h(&ln1, L * N * C),
      f(&ln1_mean, L * N),
      f(&ln1_rstd, L * N),
      h(&qkv, L * N * 3 * C),
      h(&atty, L * N * C),
      f(&att_lse, L * N * NH),
      h(&residual2, L * N * C),
      h(&ln2, L * N * C),
      f(&ln2_mean, L * N),
      f(&ln2_rstd, L * N),
      h(&fch, L * N * 4 * C),
      h(&fch_gelu, L * N * 4 * C),
      h(&residual3, L * N * C),
      h(&lnf, N * C),
      f(&lnf_mean, N),
      f(&lnf_rstd, N),
      h(&logits, N * Vp),
      f(&lse, N),
      f(&losses, N),
      h(&proj, N * C),
      f(&dresidual, N * C),
      h(&dresidual_bf16, N * C),
      h(&dln, N * C),
      h(&datty, N * C),
      h(&dqkv, N * 3 * C),
      h(&dfch, N * 4 * C),
      f(&att_delta, N * NH),
      f(&colsum_scratch, colsum),
      d(&norm_scratch, cuda::kGradNormBlocks),
      d(&norm_out, 1),
  };
  size_t total = 0;
  for (const Slot& s : slots) total += RoundUp(s.bytes);
  if (cudaError_t e = cudaMalloc(&memory, total); e != cudaSuccess) {
    cudaGetLastError();
    memory = nullptr;
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    const absl::Status detail = CudaStatus(e, "cudaMalloc");
    return absl::ResourceExhaustedError(absl::StrCat(
        "CudaGpt needs ", total >> 20, " MiB of device memory for batches of ", max_batch, "×",
        max_seq, " (", free_bytes >> 20, " MiB free): ", detail.message()));
  }
  char* at = static_cast<char*>(memory);
  for (const Slot& s : slots) {
    *s.at = at;
    at += RoundUp(s.bytes);
  }
  WINNOW_CUDA_TRY("cudaMemsetAsync (gradients and moments)",
                  cudaMemsetAsync(grads, 0, 3 * RoundUp(P * sizeof(float)), stream));
  WINNOW_CUDA_TRY("cudaMemsetAsync (bf16 weights)",
                  cudaMemsetAsync(params_bf16, 0, bf16_total * 2, stream));
  return absl::OkStatus();
}

absl::Status CudaGpt::Impl::Upload(std::span<const float> host) {
  WINNOW_CUDA_TRY("cudaMemcpyAsync (parameters)",
                  cudaMemcpyAsync(params, host.data(), num_params * sizeof(float),
                                  cudaMemcpyHostToDevice, stream));
  for (size_t k = 0; k < layout.size(); k++) {
    WINNOW_CUDA_TRY("ConvertToBf16",
                    cuda::ConvertToBf16(params_bf16 + bf16_offsets[k], params + layout[k].offset,
                                        layout[k].size, stream));
  }
  return Sync("cudaStreamSynchronize (parameter upload)");
}

CudaGpt::CudaGpt(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaGpt::~CudaGpt() = default;

absl::StatusOr<std::unique_ptr<CudaGpt>> CudaGpt::Create(const GptConfig& config,
                                                         std::span<const float> params,
                                                         int max_batch, int max_seq) {
  WINNOW_RETURN_IF_ERROR(config.Validate());
  if (params.size() != GptNumParameters(config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CudaGpt: got ", params.size(), " parameters, the config has ", GptNumParameters(config)));
  }
  if (max_batch < 1 || max_seq < 1 || max_seq > config.max_seq_len) {
    return absl::InvalidArgumentError(absl::StrCat("CudaGpt: batches of ", max_batch, "×", max_seq,
                                                   ": need ≥ 1 and max_seq ≤ ",
                                                   config.max_seq_len));
  }
  // The attention kernels put batch × heads in gridDim.y.
  if (static_cast<int64_t>(max_batch) * config.num_heads > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("CudaGpt: batches of ", max_batch, " × ",
                                                   config.num_heads,
                                                   " heads exceed the 65,535 attention blocks"));
  }
  const int hs = config.channels / config.num_heads;
  if (!cuda::AttentionSupportsHeadSize(hs)) {
    return absl::UnimplementedError(absl::StrCat(
        "CudaGpt: head size ", hs, " (channels/heads); the attention kernels support 32 and 64"));
  }
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(why);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->layout = GptLayout(config);
  impl->num_params = params.size();
  impl->max_batch = max_batch;
  impl->max_seq = max_seq;
  WINNOW_CUDA_TRY("cudaSetDevice", cudaSetDevice(0));
  WINNOW_CUDA_TRY("cudaStreamCreate", cudaStreamCreate(&impl->stream));
  absl::StatusOr<std::unique_ptr<cuda::Matmuls>> matmuls = cuda::Matmuls::Create(impl->stream);
  if (!matmuls.ok()) return matmuls.status();
  impl->matmuls = std::move(*matmuls);
  WINNOW_RETURN_IF_ERROR(impl->Allocate());
  WINNOW_RETURN_IF_ERROR(impl->Upload(params));
  return std::unique_ptr<CudaGpt>(new CudaGpt(std::move(impl)));
}

const GptConfig& CudaGpt::config() const { return impl_->config; }
size_t CudaGpt::num_parameters() const { return impl_->num_params; }
int CudaGpt::max_batch() const { return impl_->max_batch; }
int CudaGpt::max_seq() const { return impl_->max_seq; }
void CudaGpt::SetDocumentMask(int eot_token) { impl_->eot = eot_token < 0 ? -1 : eot_token; }

absl::StatusOr<float> CudaGpt::Forward(std::span<const int> tokens, std::span<const int> targets,
                                       int B, int T) {
  Impl& a = *impl_;
  const GptConfig& c = a.config;
  const int V = c.vocab_size, Vp = c.padded_vocab_size, L = c.num_layers, NH = c.num_heads,
            C = c.channels;
  if (B < 1 || T < 1 || B > a.max_batch || T > a.max_seq) {
    return absl::InvalidArgumentError(absl::StrCat("batch shape B=", B, " T=", T, ": need 1 ≤ B ≤ ",
                                                   a.max_batch, ", 1 ≤ T ≤ ", a.max_seq));
  }
  const int N = B * T;
  if (absl::Status s = CheckTokens(tokens, targets, N, V); !s.ok()) return s;
  a.B = B;
  a.T = T;
  a.has_targets = !targets.empty();
  a.logits_valid = false;
  a.counted = 0;

  // Inputs, and the embedding's scatter as CSR: positions grouped by token, in order.
  std::vector<int> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return tokens[x] < tokens[y]; });
  std::vector<int> unique, offsets;
  for (int k = 0; k < N; k++) {
    if (k == 0 || tokens[order[k]] != tokens[order[k - 1]]) {
      unique.push_back(tokens[order[k]]);
      offsets.push_back(k);
    }
  }
  offsets.push_back(N);
  auto upload = [&](int* dst, const int* src, size_t n, const char* what) {
    return CudaStatus(cudaMemcpyAsync(dst, src, n * sizeof(int), cudaMemcpyHostToDevice, a.stream),
                      what);
  };
  WINNOW_RETURN_IF_ERROR(upload(a.tokens, tokens.data(), N, "cudaMemcpyAsync (tokens)"));
  if (a.has_targets) {
    WINNOW_RETURN_IF_ERROR(upload(a.targets, targets.data(), N, "cudaMemcpyAsync (targets)"));
  }
  WINNOW_RETURN_IF_ERROR(upload(a.enc_unique, unique.data(), unique.size(), "cudaMemcpyAsync"));
  WINNOW_RETURN_IF_ERROR(upload(a.enc_offsets, offsets.data(), offsets.size(), "cudaMemcpyAsync"));
  WINNOW_RETURN_IF_ERROR(upload(a.enc_positions, order.data(), N, "cudaMemcpyAsync"));
  a.host_enc_unique = static_cast<int>(unique.size());

  const cudaStream_t s = a.stream;
  const size_t Nm = a.Nm();
  WINNOW_CUDA_TRY("DocumentStarts", cuda::DocumentStarts(a.doc_start, a.tokens, a.eot, B, T, s));
  WINNOW_CUDA_TRY("EncoderForward", cuda::EncoderForward(a.encoded, a.tokens, a.P(a.params, "wte"),
                                                         a.P(a.params, "wpe"), B, T, C, s));
  const float* ln1w = a.P(a.params, "ln1w");
  const float* ln1b = a.P(a.params, "ln1b");
  const float* ln2w = a.P(a.params, "ln2w");
  const float* ln2b = a.P(a.params, "ln2b");
  const bf16* qkvw = a.Pb("qkvw");
  const bf16* qkvb = a.Pb("qkvb");
  const bf16* attprojw = a.Pb("attprojw");
  const bf16* attprojb = a.Pb("attprojb");
  const bf16* fcw = a.Pb("fcw");
  const bf16* fcb = a.Pb("fcb");
  const bf16* fcprojw = a.Pb("fcprojw");
  const bf16* fcprojb = a.Pb("fcprojb");
  WINNOW_CUDA_TRY("LayerNormForward", cuda::LayerNormForward(a.ln1, a.ln1_mean, a.ln1_rstd,
                                                             a.encoded, ln1w, ln1b, N, C, s));
  const size_t Cz = C;
  for (int l = 0; l < L; l++) {
    const bf16* residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * Nm * Cz;
    bf16* ln1 = a.ln1 + l * Nm * Cz;
    bf16* qkv = a.qkv + l * Nm * 3 * Cz;
    bf16* atty = a.atty + l * Nm * Cz;
    bf16* residual2 = a.residual2 + l * Nm * Cz;
    bf16* ln2 = a.ln2 + l * Nm * Cz;
    bf16* fch = a.fch + l * Nm * 4 * Cz;
    bf16* fch_gelu = a.fch_gelu + l * Nm * 4 * Cz;
    bf16* residual3 = a.residual3 + l * Nm * Cz;
    // Attention branch: residual2 = residual + attproj(attention(qkv(ln1))), then ln2.
    WINNOW_RETURN_IF_ERROR(
        a.matmuls->Forward(qkv, ln1, qkvw + l * 3 * Cz * Cz, qkvb + l * 3 * Cz, N, C, 3 * C));
    WINNOW_CUDA_TRY("AttentionForward", cuda::AttentionForward(atty, a.att_lse + l * Nm * NH, qkv,
                                                               a.doc_start, B, T, C, NH, s));
    WINNOW_RETURN_IF_ERROR(
        a.matmuls->Forward(a.proj, atty, attprojw + l * Cz * Cz, attprojb + l * Cz, N, C, C));
    WINNOW_CUDA_TRY(
        "ResidualLayerNormForward",
        cuda::ResidualLayerNormForward(residual2, ln2, a.ln2_mean + l * Nm, a.ln2_rstd + l * Nm,
                                       residual, a.proj, ln2w + l * Cz, ln2b + l * Cz, N, C, s));
    // MLP branch: residual3 = residual2 + fcproj(gelu(fc(ln2))), then the next LayerNorm.
    WINNOW_RETURN_IF_ERROR(
        a.matmuls->Forward(fch, ln2, fcw + l * 4 * Cz * Cz, fcb + l * 4 * Cz, N, C, 4 * C));
    WINNOW_CUDA_TRY("GeluForward", cuda::GeluForward(fch_gelu, fch, size_t(N) * 4 * C, s));
    WINNOW_RETURN_IF_ERROR(a.matmuls->Forward(a.proj, fch_gelu, fcprojw + l * 4 * Cz * Cz,
                                              fcprojb + l * Cz, N, 4 * C, C));
    const bool last = l == L - 1;
    WINNOW_CUDA_TRY(
        "ResidualLayerNormForward",
        cuda::ResidualLayerNormForward(
            residual3, last ? a.lnf : ln1 + Nm * Cz, last ? a.lnf_mean : a.ln1_mean + (l + 1) * Nm,
            last ? a.lnf_rstd : a.ln1_rstd + (l + 1) * Nm, residual2, a.proj,
            last ? a.P(a.params, "lnfw") : ln1w + (l + 1) * Cz,
            last ? a.P(a.params, "lnfb") : ln1b + (l + 1) * Cz, N, C, s));
  }
  WINNOW_RETURN_IF_ERROR(
      a.matmuls->Forward(a.logits, a.lnf, a.Pb("wte"), /*bias=*/nullptr, N, C, Vp));
  a.logits_valid = true;
  if (!a.has_targets) {
    WINNOW_RETURN_IF_ERROR(a.Sync("Forward: cudaStreamSynchronize"));
    return 0.0f;
  }
  WINNOW_CUDA_TRY("CrossEntropyForward",
                  cuda::CrossEntropyForward(a.losses, a.lse, a.logits, a.targets, N, V, Vp, s));
  a.host_losses.resize(N);
  WINNOW_CUDA_TRY("cudaMemcpyAsync (losses)",
                  cudaMemcpyAsync(a.host_losses.data(), a.losses, N * sizeof(float),
                                  cudaMemcpyDeviceToHost, s));
  WINNOW_RETURN_IF_ERROR(a.Sync("Forward: cudaStreamSynchronize"));
  double sum = 0;  // in order, as the CPU reference
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) continue;
    sum += a.host_losses[n];
    a.counted++;
  }
  return a.counted > 0 ? static_cast<float>(sum / a.counted) : 0.0f;
}

absl::StatusOr<std::vector<float>> CudaGpt::Logits() const {
  const Impl& a = *impl_;
  if (!a.logits_valid) {
    return absl::FailedPreconditionError("Logits: no Forward since the last Backward");
  }
  const size_t n = size_t(a.B) * a.T * a.config.padded_vocab_size;
  std::vector<uint16_t> raw(n);
  WINNOW_CUDA_TRY("cudaMemcpyAsync (logits)",
                  cudaMemcpyAsync(raw.data(), a.logits, n * 2, cudaMemcpyDeviceToHost, a.stream));
  WINNOW_CUDA_TRY("Logits: cudaStreamSynchronize", cudaStreamSynchronize(a.stream));
  std::vector<float> out(n);
  for (size_t k = 0; k < n; k++) {
    const uint32_t bits = uint32_t{raw[k]} << 16;  // bf16 is the top half of an fp32
    std::memcpy(&out[k], &bits, sizeof(float));
  }
  return out;
}

absl::Status CudaGpt::Backward() {
  Impl& a = *impl_;
  if (!a.logits_valid || !a.has_targets) {
    return absl::FailedPreconditionError("Backward needs a Forward with targets first");
  }
  if (a.counted == 0) return absl::OkStatus();  // every target ignored: the loss is a constant
  a.logits_valid = false;
  const GptConfig& c = a.config;
  const int B = a.B, T = a.T, N = B * T, V = c.vocab_size, Vp = c.padded_vocab_size,
            L = c.num_layers, NH = c.num_heads, C = c.channels;
  const size_t Nm = a.Nm(), Cz = C;
  const cudaStream_t s = a.stream;
  cuda::Matmuls& mm = *a.matmuls;
  float* g = a.grads;

  // The LM head (tied to wte) and the final LayerNorm.
  WINNOW_CUDA_TRY(
      "CrossEntropyBackward",
      cuda::CrossEntropyBackward(a.logits, a.lse, a.targets, 1.0f / a.counted, N, V, Vp, s));
  WINNOW_RETURN_IF_ERROR(mm.BackwardInput(a.dln, a.logits, a.Pb("wte"), N, C, Vp));
  WINNOW_RETURN_IF_ERROR(mm.BackwardWeight(a.P(g, "wte"), a.logits, a.lnf, N, C, Vp));
  WINNOW_CUDA_TRY("cudaMemsetAsync (dresidual)",
                  cudaMemsetAsync(a.dresidual, 0, size_t(N) * C * sizeof(float), s));
  WINNOW_CUDA_TRY(
      "LayerNormBackward",
      cuda::LayerNormBackward(a.dresidual, a.dresidual_bf16, a.P(g, "lnfw"), a.P(g, "lnfb"), a.dln,
                              a.residual3 + (L - 1) * Nm * Cz, a.P(a.params, "lnfw"), a.lnf_mean,
                              a.lnf_rstd, a.colsum_scratch, N, C, s));

  // A linear layer of block l, out = inp·Wᵀ + b with W (OC, IC): dinp = dout·W, dW += doutᵀ·inp,
  // db += Σ_rows dout (cpu::MatmulBackward).
  auto linear_backward = [&](bf16* dinp, const bf16* dout, const bf16* inp, std::string_view weight,
                             std::string_view bias, int l, int IC, int OC) -> absl::Status {
    const size_t w = size_t(l) * OC * IC;
    WINNOW_RETURN_IF_ERROR(mm.BackwardInput(dinp, dout, a.Pb(weight) + w, N, IC, OC));
    WINNOW_RETURN_IF_ERROR(mm.BackwardWeight(a.P(g, weight) + w, dout, inp, N, IC, OC));
    WINNOW_CUDA_TRY("BiasBackward", cuda::BiasBackward(a.P(g, bias) + size_t(l) * OC, dout,
                                                       a.colsum_scratch, N, OC, s));
    return absl::OkStatus();
  };

  for (int l = L - 1; l >= 0; l--) {
    const bf16* residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * Nm * Cz;
    const bf16* ln1 = a.ln1 + l * Nm * Cz;
    const bf16* qkv = a.qkv + l * Nm * 3 * Cz;
    const bf16* atty = a.atty + l * Nm * Cz;
    const bf16* residual2 = a.residual2 + l * Nm * Cz;
    const bf16* ln2 = a.ln2 + l * Nm * Cz;
    const bf16* fch = a.fch + l * Nm * 4 * Cz;
    const bf16* fch_gelu = a.fch_gelu + l * Nm * 4 * Cz;
    // MLP branch; dresidual is d(residual3), which is also d(fcproj).
    WINNOW_RETURN_IF_ERROR(
        linear_backward(a.dfch, a.dresidual_bf16, fch_gelu, "fcprojw", "fcprojb", l, 4 * C, C));
    WINNOW_CUDA_TRY("GeluBackward", cuda::GeluBackward(a.dfch, fch, a.dfch, size_t(N) * 4 * C, s));
    WINNOW_RETURN_IF_ERROR(linear_backward(a.dln, a.dfch, ln2, "fcw", "fcb", l, C, 4 * C));
    WINNOW_CUDA_TRY("LayerNormBackward",
                    cuda::LayerNormBackward(a.dresidual, a.dresidual_bf16, a.P(g, "ln2w") + l * Cz,
                                            a.P(g, "ln2b") + l * Cz, a.dln, residual2,
                                            a.P(a.params, "ln2w") + l * Cz, a.ln2_mean + l * Nm,
                                            a.ln2_rstd + l * Nm, a.colsum_scratch, N, C, s));
    // Attention branch; dresidual is now d(residual2), which is also d(attproj).
    WINNOW_RETURN_IF_ERROR(
        linear_backward(a.datty, a.dresidual_bf16, atty, "attprojw", "attprojb", l, C, C));
    WINNOW_CUDA_TRY("AttentionBackward",
                    cuda::AttentionBackward(a.dqkv, a.datty, qkv, atty, a.att_lse + l * Nm * NH,
                                            a.doc_start, a.att_delta, B, T, C, NH, s));
    WINNOW_RETURN_IF_ERROR(linear_backward(a.dln, a.dqkv, ln1, "qkvw", "qkvb", l, C, 3 * C));
    WINNOW_CUDA_TRY("LayerNormBackward",
                    cuda::LayerNormBackward(a.dresidual, a.dresidual_bf16, a.P(g, "ln1w") + l * Cz,
                                            a.P(g, "ln1b") + l * Cz, a.dln, residual,
                                            a.P(a.params, "ln1w") + l * Cz, a.ln1_mean + l * Nm,
                                            a.ln1_rstd + l * Nm, a.colsum_scratch, N, C, s));
    // dresidual is now d(residual), the stream entering layer l.
  }
  WINNOW_CUDA_TRY(
      "EncoderBackward",
      cuda::EncoderBackward(a.P(g, "wte"), a.P(g, "wpe"), a.dresidual, a.enc_unique, a.enc_offsets,
                            a.enc_positions, a.host_enc_unique, B, T, C, s));
  return a.Sync("Backward: cudaStreamSynchronize");
}

absl::Status CudaGpt::ZeroGrad() {
  WINNOW_CUDA_TRY(
      "cudaMemsetAsync (gradients)",
      cudaMemsetAsync(impl_->grads, 0, impl_->num_params * sizeof(float), impl_->stream));
  return absl::OkStatus();
}

absl::StatusOr<float> CudaGpt::GradNorm() {
  Impl& a = *impl_;
  WINNOW_CUDA_TRY("SumOfSquares",
                  cuda::SumOfSquares(a.norm_out, a.grads, a.num_params, a.norm_scratch, a.stream));
  double sum = 0;
  WINNOW_CUDA_TRY(
      "cudaMemcpyAsync (gradient norm)",
      cudaMemcpyAsync(&sum, a.norm_out, sizeof(double), cudaMemcpyDeviceToHost, a.stream));
  WINNOW_RETURN_IF_ERROR(a.Sync("GradNorm: cudaStreamSynchronize"));
  return static_cast<float>(std::sqrt(sum));
}

absl::Status CudaGpt::AdamWStep(float learning_rate, const AdamWOptions& options,
                                float grad_scale) {
  Impl& a = *impl_;
  a.adam_step++;
  cuda::AdamWArgs args{};
  args.learning_rate = learning_rate;
  args.beta1 = options.beta1;
  args.beta2 = options.beta2;
  args.eps = options.eps;
  args.correction1 = 1.0f - std::pow(options.beta1, static_cast<float>(a.adam_step));
  args.correction2 = 1.0f - std::pow(options.beta2, static_cast<float>(a.adam_step));
  args.grad_scale = grad_scale;
  for (size_t k = 0; k < a.layout.size(); k++) {
    const GptTensorInfo& t = a.layout[k];
    args.weight_decay = t.weight_decay ? options.weight_decay : 0.0f;
    WINNOW_CUDA_TRY("AdamW", cuda::AdamW(a.params + t.offset, a.params_bf16 + a.bf16_offsets[k],
                                         a.grads + t.offset, a.m + t.offset, a.v + t.offset, t.size,
                                         args, a.stream));
  }
  return a.Sync("AdamWStep: cudaStreamSynchronize");  // a step's time includes its update
}

namespace {

absl::Status Download(float* host, const float* device, size_t n, cudaStream_t stream,
                      const char* what) {
  WINNOW_CUDA_TRY(what,
                  cudaMemcpyAsync(host, device, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  WINNOW_CUDA_TRY(what, cudaStreamSynchronize(stream));
  return absl::OkStatus();
}

absl::Status CheckSize(size_t got, size_t want, const char* what) {
  if (got == want) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": got ", got, " floats for a model of ", want, " parameters"));
}

}  // namespace

absl::Status CudaGpt::CopyParamsToHost(std::span<float> params) const {
  WINNOW_RETURN_IF_ERROR(CheckSize(params.size(), impl_->num_params, "CopyParamsToHost"));
  return Download(params.data(), impl_->params, impl_->num_params, impl_->stream,
                  "cudaMemcpyAsync (parameters to host)");
}

absl::Status CudaGpt::CopyGradsToHost(std::span<float> grads) const {
  WINNOW_RETURN_IF_ERROR(CheckSize(grads.size(), impl_->num_params, "CopyGradsToHost"));
  return Download(grads.data(), impl_->grads, impl_->num_params, impl_->stream,
                  "cudaMemcpyAsync (gradients to host)");
}

absl::Status CudaGpt::SetParams(std::span<const float> params) {
  WINNOW_RETURN_IF_ERROR(CheckSize(params.size(), impl_->num_params, "SetParams"));
  return impl_->Upload(params);
}

absl::Status CudaGpt::GetOptimizerState(AdamWState* state) const {
  const Impl& a = *impl_;
  state->step = a.adam_step;
  state->m.resize(a.num_params);
  state->v.resize(a.num_params);
  WINNOW_RETURN_IF_ERROR(
      Download(state->m.data(), a.m, a.num_params, a.stream, "cudaMemcpyAsync (AdamW m)"));
  return Download(state->v.data(), a.v, a.num_params, a.stream, "cudaMemcpyAsync (AdamW v)");
}

absl::Status CudaGpt::SetOptimizerState(const AdamWState& state) {
  Impl& a = *impl_;
  if (state.step < 0) return absl::InvalidArgumentError("SetOptimizerState: negative step");
  const size_t bytes = a.num_params * sizeof(float);
  for (const auto& [host, device, name] :
       {std::tuple{&state.m, a.m, "m"}, std::tuple{&state.v, a.v, "v"}}) {
    if (host->empty()) {
      WINNOW_CUDA_TRY("cudaMemsetAsync (AdamW moments)",
                      cudaMemsetAsync(device, 0, bytes, a.stream));
      continue;
    }
    WINNOW_RETURN_IF_ERROR(CheckSize(host->size(), a.num_params, name));
    WINNOW_CUDA_TRY("cudaMemcpyAsync (AdamW moments)",
                    cudaMemcpyAsync(device, host->data(), bytes, cudaMemcpyHostToDevice, a.stream));
  }
  WINNOW_RETURN_IF_ERROR(a.Sync("SetOptimizerState: cudaStreamSynchronize"));
  a.adam_step = state.step;
  return absl::OkStatus();
}

}  // namespace winnow::trainer
