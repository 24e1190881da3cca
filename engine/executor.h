#pragma once
// The executor interface: where the process of one attempt of a job runs. The run loop
// (run_loop.h) decides what runs when and what an ending means (retry, skip the dependents);
// an Executor admits ready jobs, starts their attempts, follows them and says how each ended.
// Both are driven by the run loop's single poll(): an executor never blocks and has no
// threads; it hands the loop its file descriptors and its next timer, and the loop calls
// step() when one of them is due. The loop does not know which executor runs a job.
//
// Implementations: local (local_executor.h): child processes of wfrun on this machine.

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/paths.h"
#include "engine/process.h"

namespace wfrun::engine {

class OutputSink;

/// One attempt of a job that runs a process, prepared by the run loop (attempt.h).
struct AttemptSpec {
  std::int64_t run_id = 0;  // the run it belongs to
  size_t job = 0;    // index in the workflow
  int attempt = 1;   // 1, 2, ... (retries)
  std::string name;  // the job's name
  /// argv, the explicit environment and the working folder. Values of the variables named in
  /// `secret_env` are secrets: an executor that writes the environment anywhere must keep
  /// those out of files others can read, command lines and its scheduler's records.
  ProcessSpec process;
  std::set<std::string> secret_env;
  std::unique_ptr<NamespaceSetup> ns;  // what process.setup points to (namespace mode)
  std::string container;               // the container's name when it runs in one
  JobDirs dirs;
  /// The job's output goes here (its log file and the observer); owned by the run loop, alive
  /// until the attempt's end has been reported.
  OutputSink* output = nullptr;
  std::optional<double> timeout_seconds;
  std::vector<int> gpus;  // what admit() gave the job
};

/// How an attempt ended, as the executor saw it.
struct AttemptEnd {
  enum class Reason {
    kExited,       // the process exited or was killed (status says how)
    kTimedOut,     // stopped at its timeout
    kCancelled,    // stopped because the run was cancelled
    kOutOfMemory,  // killed for using more memory than it was given
    kLost,         // it stopped without an exit status (its node failed, it was preempted)
    kNotStarted,   // it never ran: refused where it was sent (message says why); not retried
  };
  size_t job = 0;
  Reason reason = Reason::kExited;
  ExitStatus status;    // the exit code or signal, when known
  std::string message;  // the executor's words for a kLost/kOutOfMemory/kNotStarted end
  /// The GPUs it ran on, when the executor learned them where it ran (empty: what admit() gave).
  std::vector<int> gpus;
};

/// Runs attempts of jobs somewhere. See the top of this file.
class Executor {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::time_point kNever = Clock::time_point::max();

  virtual ~Executor() = default;

  /// Job `job` is ready to run: it may start once admit() says so. Jobs that wait for
  /// resources are served in the order they became ready.
  virtual void ready(size_t job) = 0;
  /// Whether `job` may start now. When it may, it holds what it was given until release():
  /// the GPUs this machine lends it (empty when it asked for none, or when the executor's
  /// scheduler assigns them where the job runs). nullopt: not now (ask again after an end).
  virtual std::optional<std::vector<int>> admit(size_t job) = 0;
  /// The job is over (or will never start): what it held is free.
  virtual void release(size_t job) = 0;
  /// The run was cancelled: forget the jobs waiting for admission.
  virtual void clear_ready() = 0;

  /// Starts one attempt. An Error means it did not start (the message says why, in the
  /// words of whatever refused it); otherwise its end is reported by a later step().
  virtual Status start(AttemptSpec spec) = 0;
  /// Resuming a run whose wfrun process died: attempt `spec.attempt` of the job was started by
  /// that process (spec.process is empty; the rest is as start() gets it). When the attempt
  /// still runs where this executor put it, or ended there, follow it as if start() had
  /// started it and return true; its end is reported by a later step(). False: it is gone,
  /// start a new attempt. The local executor's attempts die with wfrun: always false.
  virtual bool adopt(AttemptSpec& spec) { return false; }
  /// The latest attempt this executor left in a job's folders `dirs` of an earlier run that
  /// adopt() could take over; 0: none.
  virtual int last_attempt(const JobDirs& dirs) const { return 0; }
  /// Stops every attempt it runs (the run was cancelled); each one's end is still reported.
  virtual void cancel() = 0;
  /// Stops every attempt it runs at once, without a grace period and without waiting for the
  /// rest of their output (a second Ctrl-C); each one's end is still reported.
  virtual void kill_now() { cancel(); }
  /// Attempts started whose end has not been reported yet.
  virtual size_t active() const = 0;

  /// Appends the file descriptors to wait on (POLLIN).
  virtual void poll_fds(std::vector<pollfd>& fds) const = 0;
  /// The earliest time step() must run even when no descriptor is ready (kNever: none).
  virtual Clock::time_point next_wakeup() const = 0;
  /// Handles its descriptors (`fds`, `n`: the ones poll_fds() appended, with revents set)
  /// and the timers that are due, and appends the attempts that ended to `ended`.
  virtual void step(const pollfd* fds, size_t n, std::vector<AttemptEnd>& ended) = 0;
  /// After the run: waits for the executor's own clean-up work to end.
  virtual void finish() {}
};

}  // namespace wfrun::engine
