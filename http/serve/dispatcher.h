#pragma once
// The dispatcher: one thread that starts queued runs as child processes (`wfrun serve-run`,
// at most max-concurrent at once), waits for them, records their results and queues the
// final commit statuses. All git and workflow work happens in the children.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "http/serve/config.h"
#include "http/serve/metrics.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

class Reporter;

/// Where a run's files live: STATE/serve/runs/ID.
std::string run_dir(const std::string& state_dir, std::int64_t id);

/// The environment a child of the server starts with (NAME=VALUE): PATH, HOME, locale, proxies,
/// WFRUN_DEBUG, WFRUN_SECRET_*, ...; never a secret the configuration read from the
/// environment. The caller adds the repository's tokens.
std::vector<std::string> child_environment(const ServerConfig& config);

class Dispatcher {
 public:
  Dispatcher(Queue& queue, ConfigHolder& config, Metrics& metrics, Reporter& reporter,
             std::string state_dir, std::function<void(const std::string&)> log);
  ~Dispatcher();

  void start();
  /// Something changed (a run was queued, a cancel was asked for): look again now.
  void wake();
  /// Stops starting runs; running ones get `grace` seconds, then SIGTERM (recorded as
  /// cancelled), then SIGKILL after the config's cancel-grace. Blocks until all have ended.
  void drain(double grace);
  int running() const;

  /// Ends a child left by a server that died, if `pid` is still a `serve-run` for `dir`.
  /// `requeued`: the run starts again and resumes what the child ran, so the child is killed
  /// at once (SIGKILL), leaving its cluster jobs to be followed by the resumed run; otherwise it
  /// cancels its jobs (SIGTERM, then SIGKILL after `grace`).
  static void end_orphan(pid_t pid, const std::string& dir, double grace, bool requeued);

 private:
  struct Child;
  void loop();
  /// One turn of the loop: reap, cancel, start, wait. False once stopped and drained.
  bool step(std::map<std::int64_t, Child>& children, double& last_cancel_check);
  void start_runs(const ServerConfig& config);
  void reap();
  void finish(std::int64_t id, Child& c);
  Status launch(const ServerConfig& config, const RunRow& run);

  Queue& queue_;
  ConfigHolder& config_;
  Metrics& metrics_;
  Reporter& reporter_;
  std::string state_dir_;
  std::function<void(const std::string&)> log_;
  UniqueFd wake_fd_;  // eventfd

  mutable std::mutex mu_;
  bool stopping_ = false;
  double stop_deadline_ = 0;  // when running children get SIGTERM
  std::map<std::int64_t, Child>* children_ = nullptr;  // owned by the thread; size read under mu_
  int running_ = 0;
  double next_prune_ = 0;  // the thread's: when retention runs next
  static constexpr double kPruneEvery = 600;
  std::thread thread_;
};

}  // namespace wfrun::serve
