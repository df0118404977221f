// tests/util/shell.h — runs a shell command as a user would, for tests of real processes.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace winnow::testing {

// Runs `command` with /bin/sh; returns its exit status (-1 if it did not exit normally) and puts
// its standard output in `out`.
inline int RunCommand(const std::string& command, std::string* out) {
  out->clear();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace winnow::testing
