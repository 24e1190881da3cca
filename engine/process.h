#pragma once
// One child process in its own process group, with its output in a pipe. Modelled on ninja's
// src/subprocess-posix.cc.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace wfrun::engine {

/// Work done in the child between fork() and exec(), e.g. entering a private mount namespace.
/// It runs in a forked copy of a possibly multi-threaded process: it must only make system
/// calls on data prepared beforehand (no allocation, no locks). On failure it returns false
/// and sets `*what` to a static string naming the step; errno tells why.
class ChildSetup {
 public:
  virtual ~ChildSetup() = default;
  virtual bool run_in_child(const char** what) const = 0;
};

/// What to run: an explicit argv (argv[0] looked up on the PATH of `env`), an explicit
/// environment ("K=V"; never the parent's wholesale) and a working directory.
struct ProcessSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;                    // "" = the parent's
  const ChildSetup* setup = nullptr;  // must outlive start()
  /// The child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a job
  /// dies with wfrun even when wfrun is killed with SIGKILL. Start such children from a thread
  /// that lives as long as they should (the executor's).
  bool die_with_parent = false;
  /// An open `cgroup.procs` (O_WRONLY) the child moves itself into before exec, so that
  /// nothing it starts can escape the cgroup; -1: none. Best effort: a refused move is ignored.
  int cgroup_procs_fd = -1;
};

/// How a process ended: an exit code, or the signal that killed it.
struct ExitStatus {
  std::optional<int> code;
  std::optional<int> signal;
  bool success() const { return code && *code == 0; }
  /// "exit code 3", "killed by signal 9 (Killed)".
  std::string str() const;
};

/// A started child: its own process group (pgid == pid), stdin from /dev/null, stdout and
/// stderr merged into one close-on-exec pipe whose read end `output_fd()` is non-blocking.
/// The destructor SIGKILLs the group and reaps the child if that has not happened yet.
class Subprocess {
 public:
  static Result<Subprocess> start(const ProcessSpec& spec);

  Subprocess() = default;
  Subprocess(Subprocess&& o) noexcept;
  Subprocess& operator=(Subprocess&& o) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  /// Read end of the output pipe (non-blocking); -1 once closed with close_output().
  int output_fd() const { return output_.get(); }
  void close_output() { output_.reset(); }
  /// A pidfd that polls readable when the child exits (-1 where the kernel lacks pidfd_open).
  int exit_fd() const { return pidfd_.get(); }

  /// Sends `sig` to the whole process group (no-op once reaped).
  void signal_group(int sig);

  /// Reaps the child if it has exited (never blocks). True once the status is known.
  bool try_wait();
  /// True if the child has exited, without reaping it (its group id stays reserved).
  bool has_exited() const;
  /// Blocks until the child exits (retrying on EINTR) and returns its status.
  ExitStatus wait();
  const std::optional<ExitStatus>& status() const { return status_; }

 private:
  void reset();

  pid_t pid_ = -1;
  UniqueFd output_;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

/// Runs a command to the end and returns its merged output (for small helpers such as git
/// queries; never for jobs). Output past `max_bytes` is dropped.
struct CommandOutput {
  ExitStatus status;
  std::string output;
};
Result<CommandOutput> run_command(const ProcessSpec& spec, size_t max_bytes = 1 << 20);

/// Looks `name` up on `path` (a PATH value) like execvp; "" when not found. Names with a '/'
/// are returned as they are when executable.
std::string find_program(const std::string& name, const std::string& path);

}  // namespace wfrun::engine
