// trainer/train/safetensors.h — fp32 tensors in the safetensors format, which PyTorch and
// transformers read: u64 little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, …,
//    "__metadata__": {"format": "pt", …}}
// padded with spaces so that N is a multiple of 8, then the raw little-endian tensors back to back
// in the order given (offsets relative to the end of the header). Metadata values are strings.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace winnow::trainer {

struct SafetensorsTensorView {
  std::string name;
  std::vector<int64_t> shape;
  std::span<const float> data;  // product of shape floats
};

// Writes PATH (not atomically; see checkpoint.h). "format": "pt" is added to the metadata.
// InvalidArgument when a tensor's data does not match its shape or a name repeats.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<SafetensorsTensorView>& tensors,
                              const std::map<std::string, std::string>& metadata);

struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsTensor> tensors;  // in file (offset) order
  const SafetensorsTensor* Find(const std::string& name) const;
};

// Reads and checks a file: header length within the file, JSON object, F32 tensors only, offsets
// contiguous from 0 to the end of the file, sizes matching shapes. DataLoss names the problem.
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);

}  // namespace winnow::trainer
