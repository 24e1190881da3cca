// The sampler (/proc and the GPU provider) and the `metrics` table.

#include "engine/gpu/metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "base/fd.h"
#include "base/log.h"

namespace wfrun::gpu {

// --- /proc ----------------------------------------------------------------------------------

namespace {

struct Proc {
  pid_t pid, ppid, pgrp;
  unsigned long long ticks;  // utime + stime + cutime + cstime
  long long rss_pages;
};

// Reads /proc/PID/stat with one read() into a stack buffer: this runs for every process on
// the machine once a second, so no streams and no allocation per process.
bool read_stat(int proc_fd, const char* pid, Proc* out) {
  char path[300];
  std::snprintf(path, sizeof path, "%.255s/stat", pid);
  int fd = ::openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // The command name (field 2) is in parentheses and may contain anything; fields after the
  // last ')' are plain numbers.
  char* p = std::strrchr(buf, ')');
  if (!p) return false;
  p += 2;  // ") "
  // Field 3 is the state; then ppid (4), pgrp (5), ... utime (14) ... rss (24).
  unsigned long long v[25] = {};
  int field = 3;
  if (*p) ++p;  // the state character
  while (*p && field < 24) {
    while (*p == ' ') ++p;
    ++field;
    char* end = nullptr;
    long long x = std::strtoll(p, &end, 10);
    if (end == p) return false;
    v[field] = static_cast<unsigned long long>(x);
    p = end;
  }
  if (field < 24) return false;
  out->pid = static_cast<pid_t>(std::atoi(pid));
  out->ppid = static_cast<pid_t>(v[4]);
  out->pgrp = static_cast<pid_t>(v[5]);
  out->ticks = v[14] + v[15] + v[16] + v[17];
  out->rss_pages = static_cast<long long>(v[24]);
  return true;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ProcessSampler::ProcessSampler(std::string proc_root, int full_scan_every)
    : root_(std::move(proc_root)), full_every_(std::max(1, full_scan_every)) {
  ticks_per_second_ = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second_ <= 0) ticks_per_second_ = 100;
  long page = ::sysconf(_SC_PAGESIZE);
  page_kb_ = page > 0 ? page / 1024 : 4;
}

std::map<std::string, ProcessSampler::Usage> ProcessSampler::sample(
    const std::vector<JobProcesses>& jobs, double now) {
  std::map<std::string, Usage> out;
  if (jobs.empty()) return out;
  bool full = samples_++ % full_every_ == 0;
  for (const auto& j : jobs) full = full || !members_.count(j.job);

  // Reading /proc/PID/stat is most of the sampler's cost: on a full scan read them all,
  // otherwise only the processes that belonged to a job last time and the jobs' own pids.
  std::vector<Proc> procs;
  procs.reserve(full ? 512 : 64);
  if (DIR* d = ::opendir(root_.c_str())) {
    if (full) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        Proc p;
        if (read_stat(::dirfd(d), e->d_name, &p)) procs.push_back(p);
      }
    } else {
      std::set<pid_t> wanted;
      for (const auto& j : jobs) {
        wanted.insert(j.pids.begin(), j.pids.end());
        const auto& m = members_[j.job];
        wanted.insert(m.begin(), m.end());
      }
      for (pid_t pid : wanted) {
        Proc p;
        if (read_stat(::dirfd(d), std::to_string(pid).c_str(), &p)) procs.push_back(p);
      }
    }
    ::closedir(d);
  }
  std::unordered_map<pid_t, std::vector<size_t>> children;
  std::unordered_map<pid_t, size_t> by_pid;
  for (size_t i = 0; i < procs.size(); ++i) {
    children[procs[i].ppid].push_back(i);
    by_pid[procs[i].pid] = i;
  }

  for (const auto& job : jobs) {
    std::vector<size_t> stack;
    std::vector<bool> seen(procs.size(), false);
    auto push = [&](size_t i) {
      if (!seen[i]) {
        seen[i] = true;
        stack.push_back(i);
      }
    };
    if (job.pgid > 0) {
      for (size_t i = 0; i < procs.size(); ++i) {
        if (procs[i].pgrp == job.pgid) push(i);
      }
    }
    for (pid_t pid : job.pids) {
      if (auto it = by_pid.find(pid); it != by_pid.end()) push(it->second);
    }
    Usage u;
    unsigned long long ticks = 0;
    std::vector<pid_t> members;
    while (!stack.empty()) {
      size_t i = stack.back();
      stack.pop_back();
      ++u.processes;
      members.push_back(procs[i].pid);
      ticks += procs[i].ticks;
      u.rss_kb += procs[i].rss_pages * page_kb_;
      if (auto it = children.find(procs[i].pid); it != children.end()) {
        for (size_t c : it->second) push(c);
      }
    }
    members_[job.job] = std::move(members);
    double cpu_seconds = static_cast<double>(ticks) / static_cast<double>(ticks_per_second_);
    auto last = last_.find(job.job);
    if (last != last_.end() && now > last->second.at) {
      // A process that exits before its parent reaps it takes its time with it: clamp at 0.
      double used = std::max(0.0, cpu_seconds - last->second.cpu_seconds);
      u.cpu_pct = 100.0 * used / (now - last->second.at);
    }
    last_[job.job] = Last{cpu_seconds, now};
    out[job.job] = u;
  }
  return out;
}

// --- Sampler --------------------------------------------------------------------------------

Sampler::Sampler(GpuProvider* provider, MetricsStore* store, std::int64_t run_id,
                 SamplerOptions opts)
    : provider_(provider),
      store_(store),
      run_id_(run_id),
      opts_(std::move(opts)),
      procs_(opts_.proc_root, opts_.full_scan_every),
      next_due_(Clock::now()) {
  if (opts_.interval_seconds <= 0) opts_.interval_seconds = 1.0;
}

int Sampler::poll_timeout_ms(Clock::time_point now) const {
  if (now >= next_due_) return 0;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next_due_ - now).count();
  return static_cast<int>(ms + 1);
}

Result<std::vector<MetricRow>> Sampler::sample_now(const std::vector<JobProcesses>& jobs) {
  auto now = Clock::now();
  auto step = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(opts_.interval_seconds));
  // Fixed rate; after a stall, start again from now rather than catching up.
  next_due_ += step;
  if (next_due_ <= now) next_due_ = now + step;

  std::vector<MetricRow> rows;
  if (jobs.empty()) return rows;
  double t = wall_seconds();

  std::set<int> wanted;
  for (const auto& j : jobs) wanted.insert(j.gpus.begin(), j.gpus.end());
  std::map<int, GpuInfo> gpus;
  if (provider_ && !wanted.empty()) {
    auto got = provider_->sample(std::vector<int>(wanted.begin(), wanted.end()));
    if (got) {
      for (auto& g : *got) gpus[g.index] = std::move(g);
      gpu_error_.clear();
    } else if (got.error().message() != gpu_error_) {
      gpu_error_ = got.error().message();
      debug_log("gpu", "sampling GPUs: " + gpu_error_);
    }
  }
  auto usage = procs_.sample(jobs, std::chrono::duration<double>(now.time_since_epoch()).count());

  for (const auto& j : jobs) {
    MetricRow pr;
    pr.job = j.job;
    pr.t = t;
    const auto& u = usage[j.job];
    pr.cpu_pct = u.cpu_pct;
    pr.rss_kb = u.rss_kb;
    rows.push_back(std::move(pr));
    for (int idx : j.gpus) {
      auto it = gpus.find(idx);
      if (it == gpus.end()) continue;
      const GpuInfo& g = it->second;
      MetricRow r;
      r.job = j.job;
      r.t = t;
      r.gpu = idx;
      if (g.utilization_pct >= 0) r.util = g.utilization_pct;
      if (g.memory_used_mib >= 0) r.mem_mib = g.memory_used_mib;
      if (g.power_w >= 0) r.power_w = g.power_w;
      if (g.temperature_c >= 0) r.temp_c = g.temperature_c;
      rows.push_back(std::move(r));
    }
  }
  if (store_) {
    if (auto s = store_->insert(run_id_, rows); !s) return s.error();
  }
  return rows;
}

// --- MetricsStore ---------------------------------------------------------------------------

namespace {

using Db = Handle<sqlite3, sqlite3_close_v2>;
using Stmt = Handle<sqlite3_stmt, sqlite3_finalize>;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS metrics(
  run_id INTEGER NOT NULL,
  job TEXT NOT NULL,
  t REAL NOT NULL,
  gpu INTEGER,
  util INTEGER,
  mem_mib INTEGER,
  power_w REAL,
  temp_c INTEGER,
  cpu_pct REAL,
  rss_kb INTEGER);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run_id, job, t);
)sql";

}  // namespace

struct MetricsStore::Impl {
  Db db;
  Stmt insert;
  std::string path;

  Error error(const std::string& what) const {
    return Error(what + ": " + sqlite3_errmsg(db.get()) + " (" + path + ")");
  }
  Result<void> exec(const char* sql, const std::string& what) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "error";
      sqlite3_free(msg);
      return Error(what + ": " + m + " (" + path + ")");
    }
    return {};
  }
  Result<Stmt> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &s, nullptr) != SQLITE_OK) {
      return error("preparing a metrics query");
    }
    return Stmt(s);
  }
};

MetricsStore::MetricsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsStore::MetricsStore(MetricsStore&&) noexcept = default;
MetricsStore& MetricsStore::operator=(MetricsStore&&) noexcept = default;
MetricsStore::~MetricsStore() = default;

Result<MetricsStore> MetricsStore::open(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Error("creating " + state_dir + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->path = state_dir + "/wfrun.db";
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(impl->path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(db);
  if (rc != SQLITE_OK) return impl->error("opening the run store");
  sqlite3_busy_timeout(db, 10000);
  if (auto s = impl->exec("PRAGMA journal_mode=WAL", "opening the run store"); !s) return s.error();
  if (auto s = impl->exec("PRAGMA synchronous=NORMAL", "opening the run store"); !s) {
    return s.error();
  }
  if (auto s = impl->exec(kSchema, "creating the metrics table"); !s) return s.error();
  auto ins = impl->prepare(
      "INSERT INTO metrics(run_id, job, t, gpu, util, mem_mib, power_w, temp_c, cpu_pct, rss_kb) "
      "VALUES(?,?,?,?,?,?,?,?,?,?)");
  if (!ins) return ins.error();
  impl->insert = std::move(*ins);
  return MetricsStore(std::move(impl));
}

Result<void> MetricsStore::insert(std::int64_t run_id, const std::vector<MetricRow>& rows) {
  if (rows.empty()) return {};
  if (auto s = impl_->exec("BEGIN IMMEDIATE", "storing metrics"); !s) return s.error();
  sqlite3_stmt* st = impl_->insert.get();
  for (const auto& r : rows) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, r.job.c_str(), static_cast<int>(r.job.size()), SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, r.t);
    if (r.gpu) sqlite3_bind_int(st, 4, *r.gpu);
    if (r.util) sqlite3_bind_int(st, 5, *r.util);
    if (r.mem_mib) sqlite3_bind_int64(st, 6, *r.mem_mib);
    if (r.power_w) sqlite3_bind_double(st, 7, *r.power_w);
    if (r.temp_c) sqlite3_bind_int(st, 8, *r.temp_c);
    if (r.cpu_pct) sqlite3_bind_double(st, 9, *r.cpu_pct);
    if (r.rss_kb) sqlite3_bind_int64(st, 10, *r.rss_kb);
    if (sqlite3_step(st) != SQLITE_DONE) {
      Error e = impl_->error("storing metrics");
      (void)impl_->exec("ROLLBACK", "storing metrics");
      return e;
    }
  }
  sqlite3_reset(st);
  return impl_->exec("COMMIT", "storing metrics");
}

Result<std::vector<MetricRow>> MetricsStore::rows(std::int64_t run_id, const std::string& job) {
  auto st = impl_->prepare(
      "SELECT job, t, gpu, util, mem_mib, power_w, temp_c, cpu_pct, rss_kb FROM metrics "
      "WHERE run_id = ?1 AND (?2 = '' OR job = ?2) ORDER BY t, job, gpu");
  if (!st) return st.error();
  sqlite3_bind_int64(st->get(), 1, run_id);
  sqlite3_bind_text(st->get(), 2, job.c_str(), static_cast<int>(job.size()), SQLITE_TRANSIENT);
  std::vector<MetricRow> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st->get();
    auto null = [&](int c) { return sqlite3_column_type(s, c) == SQLITE_NULL; };
    MetricRow r;
    r.job = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    r.t = sqlite3_column_double(s, 1);
    if (!null(2)) r.gpu = sqlite3_column_int(s, 2);
    if (!null(3)) r.util = sqlite3_column_int(s, 3);
    if (!null(4)) r.mem_mib = sqlite3_column_int64(s, 4);
    if (!null(5)) r.power_w = sqlite3_column_double(s, 5);
    if (!null(6)) r.temp_c = sqlite3_column_int(s, 6);
    if (!null(7)) r.cpu_pct = sqlite3_column_double(s, 7);
    if (!null(8)) r.rss_kb = sqlite3_column_int64(s, 8);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return impl_->error("reading metrics");
  return out;
}

Result<std::vector<std::string>> MetricsStore::jobs(std::int64_t run_id) {
  auto st =
      impl_->prepare("SELECT job FROM metrics WHERE run_id = ? GROUP BY job ORDER BY MIN(t), job");
  if (!st) return st.error();
  sqlite3_bind_int64(st->get(), 1, run_id);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st->get(), 0)));
  }
  if (rc != SQLITE_DONE) return impl_->error("reading metrics");
  return out;
}

}  // namespace wfrun::gpu
