#pragma once
// The Slurm executor's state (slurm_executor.h is its public face), shared by its two halves:
// slurm_executor.cc follows the attempts through their files and serves the run loop;
// slurm_queue.cc runs the Slurm commands (sbatch, squeue, scontrol/sacct, scancel) and reads
// their answers. Internal to engine/slurm.

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "engine/executor.h"
#include "engine/output.h"
#include "engine/run_setup.h"
#include "engine/slurm/command.h"
#include "engine/slurm/files.h"
#include "workflows/executor_settings.h"

namespace wfrun::engine {
class RunMetrics;
}

namespace wfrun::slurm::internal {

using engine::AttemptEnd;
using engine::AttemptSpec;
using engine::Executor;
using Clock = Executor::Clock;
constexpr Clock::time_point kNever = Executor::kNever;
constexpr int kMaxSbatchAtOnce = 4;  // sbatch processes at once

inline Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::max(0.0, seconds)));
}


/// One attempt handed to Slurm.
struct Attempt {
  std::uint64_t key = 0;  // for commands that outlive a lookup
  size_t job = 0;
  int attempt = 1;
  std::string job_name;  // the workflow's
  std::string name;      // Slurm's (job_name())
  std::string dir;       // RUN/jobs/JOB/slurm-ATTEMPT
  std::string log;       // RUN/jobs/JOB/log
  engine::OutputSink* sink = nullptr;          // the run loop's (log + observer)
  std::unique_ptr<engine::OutputSink> follow;  // followed log lines -> observer only
  off_t log_offset = 0;
  off_t metrics_offset = 0;
  std::optional<double> timeout;
  std::vector<std::string> sbatch;  // sbatch's arguments
  std::optional<long long> id;
  enum class Phase { kWaiting, kSubmitting, kQueued, kRunning } phase = Phase::kWaiting;
  std::string state, reason;  // the last squeue said
  bool seen = false;          // in squeue at least once
  bool started = false;       // the shim's `started` file was seen
  std::vector<int> gpus;      // from `started`
  std::string host;
  Clock::time_point submitted_at{};
  Clock::time_point deadline = kNever;     // the job's timeout (from its start)
  Clock::time_point grace_until = kNever;  // Slurm says it ended; the exit file may be late
  Clock::time_point retry_at{};            // the next sbatch after a transient error
  int submit_tries = 0;
  bool lookup_first = false;  // a failed sbatch may have submitted it: look the name up first
  enum class Stop { kNone, kTimeout, kCancel } stop = Stop::kNone;
  bool asking = false;  // a scontrol/sacct query about its end is running
  int asked = 0;        // queries made (scontrol, sacct, sacct -c)
  std::optional<ShimExit> exit;
  std::optional<AttemptEnd> end;  // decided; reported at the next step
  int wd_dir = -1, wd_job = -1;   // inotify watches
  bool check = false;             // look at its files at the next step
  /// Adopted from an earlier run's folder: its log, from the start, goes through `sink` into
  /// this run's log (and to the observer) instead of only to the observer.
  bool copy_log = false;
};

struct Pending {
  enum class Kind { kSbatch, kSqueue, kScancel, kQuery, kLookup } kind;
  Command cmd;
  std::uint64_t key = 0;  // the attempt (sbatch, kQuery)
  int query = 0;          // kQuery: 0 scontrol, 1 sacct, 2 sacct -c
};

class SlurmExecutor : public Executor {
 public:
  SlurmExecutor(const engine::RunSetup& setup, const engine::RunResult& run,
                engine::RunMetrics* metrics, const workflows::SlurmSettings& settings);

  void ready(size_t) override {}
  std::optional<std::vector<int>> admit(size_t) override {
    if (static_cast<int>(attempts_.size()) >= settings_.max_submitted) return std::nullopt;
    return std::vector<int>{};
  }
  void release(size_t) override {}
  void clear_ready() override {}

  Status start(AttemptSpec spec) override;
  bool adopt(AttemptSpec& spec) override;
  int last_attempt(const engine::JobDirs& dirs) const override;
  void cancel() override;
  size_t active() const override { return attempts_.size(); }
  void poll_fds(std::vector<pollfd>& fds) const override;
  Clock::time_point next_wakeup() const override;
  void step(const pollfd* fds, size_t n, std::vector<AttemptEnd>& ended) override;
  void finish() override;

 private:
  Attempt* find(std::uint64_t key) {
    auto it = attempts_.find(key);
    return it == attempts_.end() ? nullptr : &it->second;
  }
  Attempt& add(AttemptSpec& spec);
  void watch(Attempt& a);
  void read_inotify();
  void submit_waiting();
  void on_sbatch(Attempt& a, const Command& c);
  void on_squeue(const Command& c);
  void on_lookup(Attempt& a, const Command& c);
  void submitted(Attempt& a, long long id);
  void on_query(Attempt& a, int query, const Command& c);
  void ask(Attempt& a);
  void look(Attempt& a);
  void follow(Attempt& a);
  void ingest_metrics(Attempt& a);
  void decide_from_exit(Attempt& a);
  void decide(Attempt& a, AttemptEnd e);
  void timers(Clock::time_point now);
  void run(Pending::Kind kind, std::vector<std::string> argv, std::uint64_t key = 0,
           int query = 0);
  void scancel(std::vector<long long> ids);
  void squeue_soon(double seconds);
  AttemptEnd finalize(Attempt& a);
  std::string slurm_words(const Attempt& a) const;

  const engine::RunSetup& setup_;
  const engine::RunResult& run_;
  engine::RunMetrics* metrics_;
  workflows::SlurmSettings settings_;
  std::string user_, wfrun_, self_;
  std::vector<std::string> env_;  // sbatch's and the other commands' environment
  bool network_ = false;
  UniqueFd inotify_;
  std::map<int, std::uint64_t> watches_;  // inotify watch -> attempt
  std::map<std::uint64_t, Attempt> attempts_;
  std::uint64_t next_key_ = 1;
  std::deque<std::uint64_t> waiting_;  // to submit, in order
  std::vector<Pending> pending_;
  mutable std::vector<std::pair<size_t, size_t>> fd_spans_;  // per pending_: [first, end) in fds
  mutable size_t inotify_slot_ = SIZE_MAX;
  int sbatch_running_ = 0;
  bool squeue_running_ = false;
  double squeue_every_;
  Clock::time_point squeue_due_ = kNever;
  double sweep_every_;
  Clock::time_point sweep_due_ = kNever;
  bool squeue_warned_ = false;
  bool cancelled_ = false;
  std::string last_queue_;  // the last squeue's lines for our jobs (to see changes)
};


}  // namespace wfrun::slurm::internal
