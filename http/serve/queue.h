#pragma once
// The durable run queue of `wfrun serve`: STATE/serve/queue.db (SQLite, WAL, synchronous=FULL),
// holding deliveries (by X-GitHub-Delivery), runs, the outbox of commit statuses to post and
// the skip decisions (commits whose workflows start nothing for an event).
// Thread-safe: one connection behind a mutex (HTTP workers, dispatcher and reporter share it).
// Deliveries are written by one writer thread in group commits: every delivery waiting when a
// commit starts goes into the same transaction, so one fsync answers them all.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"

struct sqlite3;

namespace wfrun::serve {

/// A run's status: queued, running, success, failure, error, skipped, cancelled, interrupted.
/// (`interrupted` is final only when the run was not queued again.)
bool is_final_status(const std::string& status);

/// What one run is about (a webhook delivery or a manual trigger).
struct RunRequest {
  std::string delivery;  // X-GitHub-Delivery; "" for manual runs
  std::string event;     // push, pull_request, manual
  std::string repo;      // OWNER/NAME
  std::string clone_url;
  std::string sha;  // may be "" (manual: the child resolves `ref`)
  std::string ref;
  std::string base_ref;  // pull_request only
  std::string workflow;  // manual only
  std::map<std::string, std::string> inputs;
  std::string payload = "{}";  // the webhook body as JSON text
};

/// A run as recorded.
struct RunRow {
  std::int64_t id = 0;
  RunRequest request;
  std::string status;
  std::string message;
  int attempts = 0;       // child processes started for it
  int interruptions = 0;  // times a server died while it ran
  std::int64_t pid = 0;   // the child's pid while running
  bool cancel_requested = false;
  double queued = 0, started = 0, finished = 0;
};

/// A commit status waiting to be posted.
struct Report {
  std::int64_t id = 0;
  std::int64_t run_id = 0;
  std::string repo, sha, state, description, target_url, context;
  int attempts = 0;
  std::string last_error;
  std::string outcome;  // reports_of() only: pending, sent, failed (gave up) or superseded
  double next_try = 0;  // reports_of() only

  /// A status for `run_id` to post (`target_url` ending in '/' gets the run id appended).
  static Report status(std::int64_t run_id, std::string repo, std::string sha, std::string state,
                       std::string description, std::string target_url, std::string context) {
    Report r;
    r.run_id = run_id;
    r.repo = std::move(repo);
    r.sha = std::move(sha);
    r.state = std::move(state);
    r.description = std::move(description);
    r.target_url = std::move(target_url);
    r.context = std::move(context);
    return r;
  }
};

/// A ref's head as polling saw it (http/serve/poller.h); `sha` "" = the ref is gone.
struct SeenRef {
  std::string repo, ref, sha;
};

/// A delivery (or a manual trigger) to record with its runs; see Queue::submit.
struct Submission {
  std::string delivery;  // X-GitHub-Delivery; "" for manual runs (never a duplicate)
  std::string event;
  std::vector<RunRequest> runs;
  std::vector<Report> reports;  // reports[i] (if its state is set) is queued for runs[i]
  /// Consult the skip decisions: when every run's (repo, event, ref, base ref, sha) is known
  /// to start no workflow, the delivery is recorded and no run is queued.
  bool use_decisions = false;
  /// "poll" for an event found by polling, "" for a webhook delivery or a manual run. A push or
  /// pull request (repo, event, ref, sha) already queued by the other source is a duplicate.
  std::string source;
  /// Heads polling saw, written in the same transaction (even when nothing is queued).
  std::vector<SeenRef> seen;
};

/// What submit() recorded.
struct Submitted {
  std::vector<std::int64_t> runs;  // the runs queued (a duplicate: the original delivery's)
  bool duplicate = false;          // the delivery id was known: nothing new was recorded
  std::string ignored;  // not "": recorded, not run, and why (a known skip decision)
};

/// Filters for list().
struct RunFilter {
  std::string status;
  std::string repo;
  std::string event;              // push, pull_request, manual; "" = any
  std::vector<std::string> refs;  // the run's ref is one of these; empty = any
  /// Only these runs (the dashboard's workflow filter); unset = any.
  std::optional<std::vector<std::int64_t>> ids;
  std::int64_t before = 0;  // ids below this (paging); 0 = from the newest
  std::int64_t after = 0;   // ids above this, the oldest of them first, returned newest first
  int limit = 50;
};

/// What prune() lets go: finished runs (with their statuses, and their delivery once no run
/// of it is left) and deliveries recorded without a run (answered from a skip decision), each
/// when older than its `*_before` (a time; 0: any age) or beyond the newest `*_count` (0: any
/// number). Skip decisions go when older than `runs_before`.
struct PrunePolicy {
  double runs_before = 0;
  std::int64_t runs_count = 0;
  double deliveries_before = 0;
  std::int64_t deliveries_count = 0;
};

/// What prune() removed.
struct Pruned {
  std::vector<std::int64_t> runs;  // their folders are the caller's to remove
  std::int64_t deliveries = 0;
  std::int64_t decisions = 0;
};

class Queue {
 public:
  /// Opens or creates `STATE/serve/queue.db`.
  static Result<std::unique_ptr<Queue>> open(const std::string& state_dir);
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  /// Records a delivery and its runs (and their pending statuses), durably, before it returns.
  /// When `delivery` is already known nothing is recorded: `duplicate` is set and the ids are
  /// the original runs'. Concurrent calls share one transaction (group commit).
  Result<Submitted> submit(Submission s);
  /// submit() without the skip decisions; `*duplicate` as Submitted::duplicate.
  Result<std::vector<std::int64_t>> enqueue(const std::string& delivery, const std::string& event,
                                            const std::vector<RunRequest>& runs,
                                            const std::vector<Report>& reports, bool* duplicate);

  /// Remembers that run `run_id` (for `r`) found no workflow whose `on:` matches: a later
  /// delivery for the same (repo, event, ref, base ref, sha) is recorded and not run. The
  /// first decision for a key stays.
  Status remember_skip(std::int64_t run_id, const RunRequest& r);

  /// Marks up to `n` queued runs (oldest first) running and returns them.
  Result<std::vector<RunRow>> start_queued(int n);
  Status set_pid(std::int64_t id, std::int64_t pid);
  /// Records the end of a run and queues its final status (when `report` has a state); any
  /// status of that run not yet posted is dropped (it would be stale).
  Status finish(std::int64_t id, const std::string& status, const std::string& message,
                const std::optional<Report>& report);

  /// At start: runs left `running` by a server that died. Each is marked interrupted and, when
  /// `requeue` and it was not interrupted before, queued again. Returns them (with the old pid,
  /// so the caller can end a child that outlived the server); `status` tells which way.
  Result<std::vector<RunRow>> recover_interrupted(bool requeue);

  /// Sets cancel_requested (running) or cancels at once (queued). Returns the new status, or
  /// an Error for an unknown or finished run.
  Result<std::string> request_cancel(std::int64_t id);
  /// Running runs whose cancel was requested.
  Result<std::vector<std::int64_t>> cancel_requests();

  Result<std::optional<RunRow>> get(std::int64_t id);
  Result<std::vector<RunRow>> list(const RunFilter& filter);
  /// status -> count, and the number queued.
  Result<std::map<std::string, std::int64_t>> count_by_status();

  /// Reports due at `now` (oldest first), at most `n`.
  Result<std::vector<Report>> due_reports(double now, int n);
  Status report_sent(std::int64_t id);
  /// A failed try: retried at `next_try`, or given up (`give_up`) with the error recorded.
  Status report_failed(std::int64_t id, const std::string& error, double next_try, bool give_up);
  /// Every status queued for run `run_id`, oldest first, with its outcome and last error.
  Result<std::vector<Report>> reports_of(std::int64_t run_id);
  /// The earliest next_try of a pending report (0 when none).
  Result<double> next_report_time();

  /// Removes what `policy` lets go, `batch` rows per transaction (so that deliveries never wait
  /// long behind it).
  Result<Pruned> prune(const PrunePolicy& policy, int batch = 500);
  /// Checkpoints the WAL and compacts the file (VACUUM).
  Status vacuum();
  /// The heads polling last saw for `repo` (ref -> sha); nullopt when it was never polled.
  Result<std::optional<std::map<std::string, std::string>>> polled_refs(const std::string& repo);

  struct Impl;  // the connection and the writer's hand-over list (queue_db.h)

 private:
  Queue() = default;
  void write_loop();
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
  std::thread writer_;  // group commits of submit()
};

double now_seconds();

}  // namespace wfrun::serve
