// trainer/cuda/internal/matmul.h — the GPT's matmuls on cuBLASLt: bf16 inputs, fp32 accumulation,
// the bias added in the epilogue. Row-major shapes as in cpu::MatmulForward/Backward; weights
// (OC, C) as stored in the parameter buffer.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <map>
#include <memory>
#include <tuple>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/cuda/internal/kernels.h"

namespace winnow::trainer::cuda {

// "what: cudaErrorX (message)" as an Internal status; OK for cudaSuccess.
absl::Status CudaStatus(cudaError_t error, const char* what);
absl::Status CublasStatus(cublasStatus_t status, const char* what);

class Matmuls {
 public:
  // One handle and one workspace for every matmul, all on `stream`.
  static absl::StatusOr<std::unique_ptr<Matmuls>> Create(cudaStream_t stream);
  ~Matmuls();
  Matmuls(const Matmuls&) = delete;
  Matmuls& operator=(const Matmuls&) = delete;

  // out = inp @ weight^T + bias     inp (N,C), weight (OC,C), bias (OC) or null, out (N,OC); bf16
  absl::Status Forward(bf16* out, const bf16* inp, const bf16* weight, const bf16* bias, int N,
                       int C, int OC);
  // dinp = dout @ weight   (written)   dout (N,OC), weight (OC,C), dinp (N,C); bf16
  absl::Status BackwardInput(bf16* dinp, const bf16* dout, const bf16* weight, int N, int C,
                             int OC);
  // dweight += dout^T @ inp   (accumulated in fp32)   dout (N,OC), inp (N,C) bf16; dweight (OC,C)
  absl::Status BackwardWeight(float* dweight, const bf16* dout, const bf16* inp, int N, int C,
                              int OC);

 private:
  Matmuls() = default;
  // D (m×n, column-major, ld m) = op(A)·op(B) [+ bias per row of D] [+ beta·D]; A, B bf16.
  absl::Status Gemm(const char* what, void* d, cudaDataType_t d_type, const void* a, bool trans_a,
                    const void* b, bool trans_b, int m, int n, int k, const void* bias, float beta);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_size_ = 0;
  cudaStream_t stream_ = nullptr;
  // The heuristic's choice per problem: (m, n, k, trans_a, trans_b, d_type, bias, beta ≠ 0,
  // alignments of A, B, D).
  using Key = std::tuple<int, int, int, bool, bool, int, bool, bool, int, int, int>;
  std::map<Key, cublasLtMatmulAlgo_t> algos_;
};

}  // namespace winnow::trainer::cuda
