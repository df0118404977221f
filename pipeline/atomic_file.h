// pipeline/atomic_file.h — a small file written whole or not at all (manifests, stats.json).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace winnow::pipeline {

// Writes `content` to PATH.tmp, fsyncs it and renames it over `path`; on any failure the
// temporary file is removed and `path` is left as it was. Errors name the file and the cause.
absl::Status WriteFileAtomically(const std::string& path, std::string_view content);

}  // namespace winnow::pipeline
