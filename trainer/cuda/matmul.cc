#include "trainer/cuda/internal/matmul.h"

#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"

namespace winnow::trainer::cuda {
namespace {

// Hopper's recommended cuBLASLt workspace.
constexpr size_t kWorkspaceBytes = size_t{32} << 20;

// The largest power of two ≤ 256 that divides the address (cuBLASLt's alignment preferences).
int Alignment(const void* p) {
  const auto address = reinterpret_cast<uintptr_t>(p);
  int alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

struct DescDeleter {
  void operator()(cublasLtMatmulDescOpaque_t* d) const { cublasLtMatmulDescDestroy(d); }
  void operator()(cublasLtMatrixLayoutOpaque_t* l) const { cublasLtMatrixLayoutDestroy(l); }
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { cublasLtMatmulPreferenceDestroy(p); }
};
using MatmulDesc = std::unique_ptr<cublasLtMatmulDescOpaque_t, DescDeleter>;
using Layout = std::unique_ptr<cublasLtMatrixLayoutOpaque_t, DescDeleter>;
using Preference = std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, DescDeleter>;

absl::StatusOr<Layout> MakeLayout(cudaDataType_t type, int rows, int cols, const char* what) {
  cublasLtMatrixLayout_t layout = nullptr;
  if (absl::Status s =
          CublasStatus(cublasLtMatrixLayoutCreate(&layout, type, rows, cols, rows), what);
      !s.ok()) {
    return s;
  }
  return Layout(layout);
}

}  // namespace

absl::Status CudaStatus(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, ": ", cudaGetErrorName(error), " (", cudaGetErrorString(error), ")"));
}

absl::Status CublasStatus(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", cublasLtGetStatusName(status), " (",
                                          cublasLtGetStatusString(status), ")"));
}

absl::StatusOr<std::unique_ptr<Matmuls>> Matmuls::Create(cudaStream_t stream) {
  std::unique_ptr<Matmuls> m(new Matmuls());
  m->stream_ = stream;
  if (absl::Status s = CublasStatus(cublasLtCreate(&m->handle_), "cublasLtCreate"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CudaStatus(cudaMalloc(&m->workspace_, kWorkspaceBytes),
                                  "cudaMalloc (cuBLASLt workspace)");
      !s.ok()) {
    // Clear the (non-sticky) error: a later launch check (cudaGetLastError) would report it.
    cudaGetLastError();
    m->workspace_ = nullptr;
    return s;
  }
  m->workspace_size_ = kWorkspaceBytes;
  return m;
}

Matmuls::~Matmuls() {
  if (workspace_ != nullptr) cudaFree(workspace_);
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

absl::Status Matmuls::Gemm(const char* what, void* d, cudaDataType_t d_type, const void* a,
                           bool trans_a, const void* b, bool trans_b, int m, int n, int k,
                           const void* bias, float beta) {
  auto check = [&](cublasStatus_t status, const char* call) {
    return CublasStatus(status, absl::StrCat(what, ": ", call).c_str());
  };
  cublasLtMatmulDesc_t raw_desc = nullptr;
  if (absl::Status s = check(cublasLtMatmulDescCreate(&raw_desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                             "cublasLtMatmulDescCreate");
      !s.ok()) {
    return s;
  }
  MatmulDesc desc(raw_desc);
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (absl::Status s = check(cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSA,
                                                            &op_a, sizeof(op_a)),
                             "set TRANSA");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = check(cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_TRANSB,
                                                            &op_b, sizeof(op_b)),
                             "set TRANSB");
      !s.ok()) {
    return s;
  }
  if (bias != nullptr) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    if (absl::Status s =
            check(cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                 &epilogue, sizeof(epilogue)),
                  "set EPILOGUE");
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            check(cublasLtMatmulDescSetAttribute(desc.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                 &bias, sizeof(bias)),
                  "set BIAS_POINTER");
        !s.ok()) {
      return s;
    }
  }
  // Column-major storage: A is (m×k), or (k×m) when transposed; B is (k×n), or (n×k).
  absl::StatusOr<Layout> a_layout =
      MakeLayout(CUDA_R_16BF, trans_a ? k : m, trans_a ? m : k, "cublasLtMatrixLayoutCreate (A)");
  if (!a_layout.ok()) return a_layout.status();
  absl::StatusOr<Layout> b_layout =
      MakeLayout(CUDA_R_16BF, trans_b ? n : k, trans_b ? k : n, "cublasLtMatrixLayoutCreate (B)");
  if (!b_layout.ok()) return b_layout.status();
  absl::StatusOr<Layout> d_layout = MakeLayout(d_type, m, n, "cublasLtMatrixLayoutCreate (D)");
  if (!d_layout.ok()) return d_layout.status();

  const int align_a = Alignment(a), align_b = Alignment(b), align_d = Alignment(d);
  const Key key{
      m,         n,       k,       trans_a, trans_b, static_cast<int>(d_type), bias != nullptr,
      beta != 0, align_a, align_b, align_d};
  auto found = algos_.find(key);
  if (found == algos_.end()) {
    cublasLtMatmulPreference_t raw_pref = nullptr;
    if (absl::Status s =
            check(cublasLtMatmulPreferenceCreate(&raw_pref), "cublasLtMatmulPreferenceCreate");
        !s.ok()) {
      return s;
    }
    Preference pref(raw_pref);
    auto set_pref = [&](cublasLtMatmulPreferenceAttributes_t attribute, const void* value,
                        size_t size) {
      return check(cublasLtMatmulPreferenceSetAttribute(pref.get(), attribute, value, size),
                   "cublasLtMatmulPreferenceSetAttribute");
    };
    const uint32_t alignments[4] = {static_cast<uint32_t>(align_a), static_cast<uint32_t>(align_b),
                                    static_cast<uint32_t>(align_d), static_cast<uint32_t>(align_d)};
    absl::Status s = set_pref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_size_,
                              sizeof(workspace_size_));
    if (s.ok()) s = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alignments[0], 4);
    if (s.ok()) s = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alignments[1], 4);
    if (s.ok()) s = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alignments[2], 4);
    if (s.ok()) s = set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alignments[3], 4);
    if (!s.ok()) return s;
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    if (absl::Status s =
            check(cublasLtMatmulAlgoGetHeuristic(handle_, desc.get(), a_layout->get(),
                                                 b_layout->get(), d_layout->get(), d_layout->get(),
                                                 pref.get(), 1, &result, &count),
                  "cublasLtMatmulAlgoGetHeuristic");
        !s.ok()) {
      return s;
    }
    if (count == 0) {
      return absl::InternalError(absl::StrCat(what, ": cuBLASLt has no algorithm for m=", m,
                                              " n=", n, " k=", k, " (alignments ", align_a, "/",
                                              align_b, "/", align_d, ")"));
    }
    found = algos_.emplace(key, result.algo).first;
  }
  const float alpha = 1.0f;
  return check(cublasLtMatmul(handle_, desc.get(), &alpha, a, a_layout->get(), b, b_layout->get(),
                              &beta, d, d_layout->get(), d, d_layout->get(), &found->second,
                              workspace_, workspace_size_, stream_),
               "cublasLtMatmul");
}

absl::Status Matmuls::Forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias,
                              int N, int C, int OC) {
  // out^T (OC×N) = W (OC×C, stored as C×OC column-major, transposed) · inp^T (C×N).
  return Gemm("matmul forward", out, CUDA_R_16BF, weight, /*trans_a=*/true, inp,
              /*trans_b=*/false, OC, N, C, bias, 0.0f);
}

absl::Status Matmuls::BackwardInput(bf16* dinp, const bf16* dout, const bf16* weight, int N, int C,
                                    int OC) {
  // dinp^T (C×N) = W^T (C×OC, i.e. W as stored) · dout^T (OC×N).
  return Gemm("matmul backward (input)", dinp, CUDA_R_16BF, weight, false, dout, false, C, N, OC,
              nullptr, 0.0f);
}

absl::Status Matmuls::BackwardWeight(float* dweight, const bf16* dout, const bf16* inp, int N,
                                     int C, int OC) {
  // dW^T (C×OC) += inp^T (C×N) · dout (N×OC, i.e. dout^T as stored, transposed).
  return Gemm("matmul backward (weight)", dweight, CUDA_R_32F, inp, false, dout, true, C, OC, N,
              nullptr, 1.0f);
}

}  // namespace winnow::trainer::cuda
