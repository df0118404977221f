// services/cluster/child_process.h — a program run as a child process (a worker's training run),
// its output appended to a log file. The child is killed when the thread that started it dies
// (PR_SET_PDEATHSIG), so a SIGKILLed worker leaves no orphan writing to its folders.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace winnow::services {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with argv; stdout and stderr append to log_path.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();  // Kill()s a child still running

  // The exit code once it ended (128 + N when signal N ended it); nullopt while it runs.
  std::optional<int> Poll();
  // SIGTERM, then SIGKILL after grace_seconds; waits for it. Returns the exit code.
  int Kill(double grace_seconds = 5);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_code_;
};

// The last `max_lines` lines of a text file ("" when it cannot be read).
std::string TailOfFile(const std::string& path, int max_lines);

}  // namespace winnow::services
