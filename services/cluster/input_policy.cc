#include "services/cluster/input_policy.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace winnow::services {

absl::Status CheckInputAllowed(const std::string& location,
                               const std::vector<std::string>& allowed_roots) {
  if (absl::StartsWith(location, "http://") || absl::StartsWith(location, "https://") ||
      absl::StartsWith(location, "s3://")) {
    return absl::OkStatus();
  }
  if (absl::StrContains(location, "://")) {
    return absl::PermissionDeniedError(
        absl::StrCat("input ", location,
                     ": only http(s):// and s3:// URLs or allowed local "
                     "folders may be read"));
  }
  if (allowed_roots.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("input ", location,
                     ": local paths are refused (the coordinator allows no folder; start it "
                     "with --allow-root DIR)"));
  }
  std::error_code ec;
  const std::filesystem::path path = std::filesystem::weakly_canonical(location, ec);
  if (!ec) {
    for (const std::string& root : allowed_roots) {
      const std::filesystem::path canonical_root = std::filesystem::weakly_canonical(root, ec);
      if (ec) continue;
      const auto [root_end, path_it] =
          std::mismatch(canonical_root.begin(), canonical_root.end(), path.begin(), path.end());
      if (root_end == canonical_root.end()) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat("input ", location,
                                                  " is outside the allowed folders (",
                                                  absl::StrJoin(allowed_roots, ", "), ")"));
}

}  // namespace winnow::services
