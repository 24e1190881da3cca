#include "engine/slurm/command.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace wfrun::slurm {

namespace {
constexpr size_t kMaxOutput = 16 << 20;
}

Result<Command> Command::start(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, double timeout_seconds) {
  engine::ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  auto p = engine::Subprocess::start(spec);
  if (!p) return p.error();
  Command c;
  c.proc_ = std::move(*p);
  c.deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(timeout_seconds));
  return c;
}

void Command::poll_fds(std::vector<pollfd>& fds) const {
  if (!eof_ && proc_.output_fd() >= 0) fds.push_back({proc_.output_fd(), POLLIN, 0});
  if (!exited_ && proc_.exit_fd() >= 0) fds.push_back({proc_.exit_fd(), POLLIN, 0});
}

void Command::step() {
  char buf[16384];
  while (!eof_) {
    ssize_t n = ::read(proc_.output_fd(), buf, sizeof buf);
    if (n > 0) {
      if (out_.size() < kMaxOutput) out_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    eof_ = true;
    proc_.close_output();
  }
  if (!exited_ && (proc_.has_exited() || (eof_ && proc_.exit_fd() < 0))) {
    if (proc_.exit_fd() < 0)
      proc_.wait();
    else if (!proc_.try_wait())
      return;
    exited_ = true;
  }
  if (!done() && Clock::now() >= deadline_) {
    timed_out_ = true;
    proc_.signal_group(SIGKILL);
    proc_.wait();
    exited_ = eof_ = true;
    proc_.close_output();
  }
}

std::string Command::last_line() const {
  std::string s = out_;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace wfrun::slurm
