#pragma once
// A Slurm command (sbatch, squeue, scancel, scontrol, sacct) run in the background of the run
// loop: its output collected without blocking, the process killed when it takes too long.

#include <poll.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/process.h"

namespace wfrun::slurm {

class Command {
 public:
  using Clock = std::chrono::steady_clock;
  /// Starts `argv` with the environment `env`; killed after `timeout_seconds`.
  static Result<Command> start(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, double timeout_seconds);

  /// Appends its descriptors (output, exit) to `fds`.
  void poll_fds(std::vector<pollfd>& fds) const;
  /// Reads what is there, reaps it when it exited, kills it when overdue. Never blocks.
  void step();
  bool done() const { return eof_ && exited_; }
  Clock::time_point deadline() const { return deadline_; }
  /// Its stdout and stderr together (at most 16 MiB are kept).
  const std::string& output() const { return out_; }
  const engine::ExitStatus& status() const { return *proc_.status(); }
  bool ok() const { return done() && status().success(); }
  bool timed_out() const { return timed_out_; }
  /// The output's last non-empty line, trimmed (for messages).
  std::string last_line() const;

 private:
  engine::Subprocess proc_;
  std::string out_;
  bool eof_ = false, exited_ = false, timed_out_ = false;
  Clock::time_point deadline_;
};

}  // namespace wfrun::slurm
