// tests/util/process.h — a real child process for fault tests: started with fork/exec, its
// output in a log file, stopped with any signal (SIGKILL included).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace winnow::testing {

class Process {
 public:
  // Runs argv[0] with the arguments; stdout and stderr go to `log_path`.
  Process(const std::vector<std::string>& argv, const std::string& log_path) : log_(log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      setpgid(0, 0);  // its own group: a kill reaches its children too
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Process() { Kill(SIGKILL); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return false;
    }
    return true;
  }
  // Sends `signal` to the process group and reaps the process.
  void Kill(int signal = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(-pid_, signal);
    ::kill(pid_, signal);
    Wait();
  }
  // Waits for the exit and returns its code (-1 for a signal).
  int Wait() {
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
    }
    return exit_code_;
  }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Polls the log until `pattern` matches (its first group, or the whole match), or the timeout.
  std::optional<std::string> WaitForLog(const std::string& pattern,
                                        std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const std::regex re(pattern);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      const std::string log = Log();
      std::smatch m;
      if (std::regex_search(log, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      if (!running()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_;
};

}  // namespace winnow::testing
