// services/cluster/input_policy.h — what a submitted job may read: a job must not read the
// coordinator's (or a worker's) disk beyond the folders the operator allowed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace winnow::services {

// OK for http(s):// and s3:// URLs, and for local paths inside one of `allowed_roots`
// (canonical folders; symlinks and ".." resolved first). PermissionDenied otherwise, naming the
// input and the rule.
absl::Status CheckInputAllowed(const std::string& location,
                               const std::vector<std::string>& allowed_roots);

}  // namespace winnow::services
