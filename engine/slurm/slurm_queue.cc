// The Slurm commands of the executor (executor_state.h): sbatch, the name lookup after a
// doubtful sbatch, the one squeue for all jobs with its backoff, scontrol/sacct about an end
// without an exit file, scancel. Each runs as a child process in the run loop's poll().

#include <algorithm>
#include <string>
#include <vector>

#include "base/log.h"
#include "engine/fs.h"
#include "engine/slurm/commands.h"
#include "engine/slurm/executor_state.h"

namespace wfrun::slurm::internal {

namespace {

constexpr double kCommandTimeout = 60;  // seconds before a Slurm command is killed
constexpr size_t kScancelBatch = 100;   // job ids per scancel

}  // namespace

void SlurmExecutor::submit_waiting() {
  auto now = Clock::now();
  while (sbatch_running_ < kMaxSbatchAtOnce && !waiting_.empty()) {
    Attempt* a = find(waiting_.front());
    if (!a) {
      waiting_.pop_front();
      continue;
    }
    if (a->retry_at > now) break;
    waiting_.pop_front();
    if (a->lookup_first) {
      a->lookup_first = false;
      a->phase = Attempt::Phase::kSubmitting;
      ++sbatch_running_;
      run(Pending::Kind::kLookup,
          {"squeue", "-h", "-t", "all", "-u", user_, "--name=" + a->name, "-o", "%i|%Z"}, a->key);
      continue;
    }
    std::vector<std::string> argv = {"sbatch"};
    argv.insert(argv.end(), a->sbatch.begin(), a->sbatch.end());
    a->phase = Attempt::Phase::kSubmitting;
    a->submit_tries++;
    a->submitted_at = now;
    ++sbatch_running_;
    run(Pending::Kind::kSbatch, std::move(argv), a->key);
  }
}

void SlurmExecutor::run(Pending::Kind kind, std::vector<std::string> argv, std::uint64_t key,
                        int query) {
  auto c = Command::start(argv, env_, kCommandTimeout);
  if (!c) {
    // The command is not there (no Slurm client on PATH): what sbatch would answer.
    Pending p{kind, Command{}, key, query};
    debug_log("slurm", argv[0] + ": " + c.error().message());
    if (kind == Pending::Kind::kSbatch || kind == Pending::Kind::kLookup) {
      --sbatch_running_;
      if (Attempt* a = find(key))
        decide(*a, AttemptEnd{a->job, AttemptEnd::Reason::kNotStarted, {},
                              "cannot submit job '" + a->job_name + "' to Slurm: " +
                                  c.error().message(),
                              {}});
    } else if (kind == Pending::Kind::kSqueue) {
      squeue_running_ = false;
    } else if (kind == Pending::Kind::kQuery) {
      if (Attempt* a = find(key)) a->asking = false;
    }
    return;
  }
  pending_.push_back(Pending{kind, std::move(*c), key, query});
}

void SlurmExecutor::submitted(Attempt& a, long long id) {
  a.id = id;
  a.phase = Attempt::Phase::kQueued;
  // The id is what a resumed wfrun follows; the name covers the moment before this write.
  (void)engine::write_file(a.dir + "/" + kSlurmIdFile, std::to_string(id) + "\n");
  squeue_soon(squeue_every_);
  if (a.stop == Attempt::Stop::kCancel) scancel({id});
}

void SlurmExecutor::on_sbatch(Attempt& a, const Command& c) {
  if (auto id = c.ok() ? parse_job_id(c.output()) : std::nullopt) return submitted(a, *id);
  std::string words = c.timed_out() ? "sbatch did not answer in " +
                                          std::to_string(static_cast<int>(kCommandTimeout)) + "s"
                                    : c.output();
  while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
  for (size_t nl; (nl = words.find('\n')) != std::string::npos;) words.replace(nl, 1, "; ");
  if (a.stop == Attempt::Stop::kCancel) {
    decide(a, AttemptEnd{a.job, AttemptEnd::Reason::kCancelled, {}, "", {}});
    return;
  }
  if ((c.timed_out() || transient_error(words)) && a.submit_tries < 4) {
    // The controller was busy. A timed-out sbatch may still have submitted the job: the
    // retry looks the name up first (squeue --name), through adopt's path.
    debug_log("slurm", "sbatch for " + a.name + ": " + words + "; trying again");
    a.retry_at = after(0.5 * (1 << a.submit_tries));
    a.phase = Attempt::Phase::kWaiting;
    a.lookup_first = true;
    waiting_.push_back(a.key);
    return;
  }
  if (words.empty()) words = c.status().str();
  decide(a, AttemptEnd{a.job, AttemptEnd::Reason::kNotStarted, {},
                       "Slurm refused job '" + a.job_name + "': " + words, {}});
}

void SlurmExecutor::on_lookup(Attempt& a, const Command& c) {
  // The sbatch that "failed" may have submitted it: then follow that job.
  if (auto id = c.ok() ? job_in_dir(c.output(), a.dir) : std::nullopt) return submitted(a, *id);
  if (a.stop == Attempt::Stop::kCancel)
    return decide(a, AttemptEnd{a.job, AttemptEnd::Reason::kCancelled, {}, "", {}});
  a.phase = Attempt::Phase::kWaiting;
  waiting_.push_front(a.key);
}

void SlurmExecutor::squeue_soon(double seconds) {
  squeue_due_ = std::min(squeue_due_, after(seconds));
}

void SlurmExecutor::on_squeue(const Command& c) {
  squeue_running_ = false;
  if (!c.ok()) {
    // Unknown is not gone: back off and ask again; say so once.
    if (!squeue_warned_) {
      squeue_warned_ = true;
      setup_.observer->warning("squeue failed (" + c.last_line() +
                               "); wfrun keeps following its jobs and asks again");
    }
    squeue_every_ = std::min(squeue_every_ * 2, settings_.squeue_max_interval);
    squeue_due_ = after(squeue_every_);
    return;
  }
  std::map<long long, QueueEntry> by_id;
  for (auto& e : parse_squeue(c.output())) by_id.emplace(e.id, std::move(e));
  std::string mine;
  auto now = Clock::now();
  for (auto& [key, a] : attempts_) {
    if (!a.id || a.end) continue;
    auto it = by_id.find(*a.id);
    if (it == by_id.end()) {
      // Gone from the queue: ended longer ago than MinJobAge, or not listed yet. A job seen
      // before, or submitted long enough ago, has ended: its exit file says how.
      if ((a.seen || now - a.submitted_at > std::chrono::seconds(60)) && a.grace_until == kNever)
        a.grace_until = after(network_ ? settings_.exit_grace : 2);
      continue;
    }
    const QueueEntry& e = it->second;
    mine += std::to_string(e.id) + e.state + "\n";
    a.seen = true;
    a.state = e.state;
    a.reason = e.reason;
    if (e.state == "RUNNING" && a.phase == Attempt::Phase::kQueued) {
      a.phase = Attempt::Phase::kRunning;
      a.check = true;
    }
    if (terminal_state(e.state) && a.grace_until == kNever) {
      a.check = true;
      bool failure = e.state != "COMPLETED" && e.state != "FAILED";
      if (a.stop != Attempt::Stop::kNone && !a.started && !engine::exists(a.dir + "/" + kStartedFile)) {
        a.grace_until = Clock::now();  // stopped before it ran: nothing more will come
      } else {
        double grace = network_ ? settings_.exit_grace : 2;
        if (failure) grace = std::min(grace, setup_.opts->kill_grace_seconds + 5);
        a.grace_until = after(grace);
      }
    }
  }
  // Back off while nothing changes; ask soon again after a change.
  if (mine != last_queue_)
    squeue_every_ = settings_.squeue_interval;
  else
    squeue_every_ = std::min(squeue_every_ * 2, settings_.squeue_max_interval);
  last_queue_ = std::move(mine);
  squeue_due_ = after(squeue_every_);
}

void SlurmExecutor::ask(Attempt& a) {
  if (a.asking || a.end || !a.id) return;
  a.asking = true;
  std::string id = std::to_string(*a.id);
  switch (a.asked) {
    case 0:
      run(Pending::Kind::kQuery, {"scontrol", "show", "job", "-o", id}, a.key, 0);
      break;
    case 1:
      run(Pending::Kind::kQuery, {"sacct", "-X", "-n", "-P", "-j", id, "-o", "JobIDRaw,State,ExitCode"},
          a.key, 1);
      break;
    default:
      run(Pending::Kind::kQuery, {"sacct", "-c", "-n", "-P", "-j", id, "-o", "JobID,State,ExitCode"},
          a.key, 2);
      break;
  }
  a.asked++;
}

void SlurmExecutor::on_query(Attempt& a, int query, const Command& c) {
  a.asking = false;
  if (a.end) return;
  std::optional<JobRecord> rec;
  if (c.ok()) rec = query == 0 ? parse_scontrol(c.output()) : parse_sacct(c.output(), *a.id);
  // A state that will still change (COMPLETING): ask again a little later.
  if (rec && !terminal_state(rec->state)) {
    a.asked = query;
    a.grace_until = after(1);
    return;
  }
  if (!a.exit) {  // it may have arrived meanwhile: it says more than Slurm
    if (auto t = engine::read_file(a.dir + "/" + kExitFile, 1 << 16))
      if (auto x = parse_shim_exit(*t)) {
        a.exit = std::move(*x);
        follow(a);
      }
  }
  const bool killed = a.exit && (a.exit->reason == "terminated" || a.exit->status.signal ||
                                 (a.exit->status.code && *a.exit->status.code > 128));
  if (a.exit && !killed) return decide_from_exit(a);
  if (!rec) {
    if (query < 2) return ask(a);
    return decide(a, AttemptEnd{a.job, AttemptEnd::Reason::kLost, {},
                                "no exit status from Slurm job " + std::to_string(*a.id) +
                                    (a.state.empty() ? std::string()
                                                     : " (last Slurm state " + a.state + ")"),
                                {}});
  }
  AttemptEnd e = end_from_state(*rec);
  if (a.exit) e.status = a.exit->status;
  if (a.stop == Attempt::Stop::kTimeout &&
      (e.reason == AttemptEnd::Reason::kCancelled || e.reason == AttemptEnd::Reason::kExited))
    e.reason = AttemptEnd::Reason::kTimedOut;
  if (a.stop == Attempt::Stop::kCancel && e.reason == AttemptEnd::Reason::kExited)
    e.reason = AttemptEnd::Reason::kCancelled;
  decide(a, std::move(e));
}

void SlurmExecutor::scancel(std::vector<long long> ids) {
  for (size_t i = 0; i < ids.size(); i += kScancelBatch) {
    std::vector<std::string> argv = {"scancel"};
    for (size_t k = i; k < std::min(ids.size(), i + kScancelBatch); ++k)
      argv.push_back(std::to_string(ids[k]));
    run(Pending::Kind::kScancel, std::move(argv));
  }
}

}  // namespace wfrun::slurm::internal
