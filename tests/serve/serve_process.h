#pragma once
// Starting a real `wfrun serve` for the serve tests: one copy of the fork/exec and of reading
// the port the server prints first, shared by serve_test, serve_loop_test and serve_cache_test.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace wfrun::serve::testing {

/// Starts `WFRUN_BIN serve --config server.yaml` in `dir` (stderr to dir/server.log) and waits
/// for its first line, which names the port. False if it did not say one. `extra`: one more
/// argument (a flag such as --catch-up).
inline bool start_serve(const std::filesystem::path& dir, pid_t& pid, int& port,
                        const char* extra = nullptr) {
  port = 0;
  int out[2];
  if (::pipe(out) != 0) return false;
  pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    int err = ::open((dir / "server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(err, 2);
    ::close(out[0]);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execl(WFRUN_BIN, WFRUN_BIN, "serve", "--config", "server.yaml", extra, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);
  auto at = line.rfind("port ");
  if (at == std::string::npos) return false;
  port = std::stoi(line.substr(at + 5));
  return true;
}

}  // namespace wfrun::serve::testing
