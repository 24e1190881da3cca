#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/strings.h"

namespace wfrun::cli {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TerminalPrinter::TerminalPrinter(std::FILE* out, bool quiet)
    : out_(out), quiet_(quiet), tty_(::isatty(fileno(out)) != 0) {}

std::string TerminalPrinter::prefix(const std::string& job) const {
  std::string name = job;
  if (name.size() < width_) name.append(width_ - name.size(), ' ');
  if (!tty_) return name + " | ";
  auto it = colors_.find(job);
  int color = it == colors_.end() ? 36 : it->second;
  return "\033[" + std::to_string(color) + "m" + name + " |\033[0m ";
}

void TerminalPrinter::run_started(const engine::RunResult& run) {
  static const int kColors[] = {36, 33, 35, 32, 34, 96, 93, 95, 92, 94};
  size_t i = 0;
  for (const auto& j : run.jobs) {
    width_ = std::max(width_, j.name.size());
    colors_[j.name] = kColors[i++ % (sizeof kColors / sizeof kColors[0])];
  }
  if (quiet_) return;
  std::fprintf(out_, "run %lld (#%lld) started: %s\n", static_cast<long long>(run.id),
               static_cast<long long>(run.number), run.dir.c_str());
  std::fflush(out_);
}

void TerminalPrinter::clear_status() {
  if (!status_shown_) return;
  std::fputs("\r\033[K", out_);
  status_shown_ = false;
}

void TerminalPrinter::draw_status() {
  if (!tty_ || quiet_ || running_.empty()) return;
  double now = now_seconds();
  std::string line = "running:";
  for (const auto& [job, start] : running_) {
    line += " " + job + " (" + format_duration(now - start) + ")";
  }
  struct winsize ws {};
  size_t cols = 80;
  if (::ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) cols = ws.ws_col;
  if (line.size() >= cols) line = line.substr(0, cols > 4 ? cols - 4 : cols) + "...";
  std::fprintf(out_, "\033[2m%s\033[0m", line.c_str());
  status_shown_ = true;
  std::fflush(out_);
}

void TerminalPrinter::job_started(const std::string& job, int attempt) {
  running_[job] = now_seconds();
  if (quiet_) return;
  clear_status();
  if (attempt > 1) {
    std::fprintf(out_, "%sretrying (attempt %d)\n", prefix(job).c_str(), attempt);
  }
  draw_status();
}

void TerminalPrinter::job_output(const std::string& job, std::string_view line) {
  if (quiet_) return;
  clear_status();
  std::string p = prefix(job);
  std::fwrite(p.data(), 1, p.size(), out_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fputc('\n', out_);
  draw_status();
}

void TerminalPrinter::job_finished(const engine::JobResult& job) {
  running_.erase(job.name);
  if (quiet_) return;
  clear_status();
  std::string what = engine::job_state_name(job.state);
  if (job.state == engine::JobState::kFailed && job.exit_code) {
    what += " (exit code " + std::to_string(*job.exit_code) + ")";
  }
  if (!job.message.empty()) what += ": " + job.message;
  if (job.state != engine::JobState::kSkipped || !job.message.empty()) {
    double d = job.finished > job.started && job.started > 0 ? job.finished - job.started : 0;
    if (job.state == engine::JobState::kSkipped) {
      std::fprintf(out_, "%s%s\n", prefix(job.name).c_str(), what.c_str());
    } else {
      std::fprintf(out_, "%s%s in %s\n", prefix(job.name).c_str(), what.c_str(),
                   format_duration(d).c_str());
    }
  }
  if (!tty_) std::fflush(out_);
  draw_status();
}

void TerminalPrinter::heartbeat() {
  if (quiet_) return;
  if (!tty_) {
    // A file or a pipe (a CI log, `| tee`, serve-run's log): what the jobs printed shows up
    // within a second, not when stdio's buffer fills or wfrun exits.
    std::fflush(out_);
    return;
  }
  clear_status();
  draw_status();
}

void TerminalPrinter::warning(std::string_view message) {
  clear_status();
  std::fprintf(stderr, "wfrun: warning: %.*s\n", static_cast<int>(message.size()), message.data());
  draw_status();
}

void TerminalPrinter::run_finished(const engine::RunResult& run) {
  clear_status();
  std::fputs(summary_table(run).c_str(), out_);
  std::fflush(out_);
}

namespace {

std::string fixed(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string memory_kb(long long kb) {
  if (kb >= 1024LL * 1024) return fixed("%.1f GiB", kb / 1048576.0);
  if (kb >= 1024) return fixed("%.0f MiB", kb / 1024.0);
  return std::to_string(kb) + " KiB";
}

}  // namespace

std::string summary_table(const engine::RunResult& run) {
  bool gpus = false;
  for (const auto& j : run.jobs) gpus = gpus || !j.gpus.empty();
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"JOB", "STATUS", "DURATION", "EXIT", "PEAK RSS"});
  if (gpus) rows[0].insert(rows[0].end(), {"GPUS", "GPU UTIL MEAN/PEAK", "GPU MEM PEAK", "ENERGY"});
  for (const auto& j : run.jobs) {
    std::string dur = "-";
    if (j.started > 0 && j.finished >= j.started) dur = format_duration(j.finished - j.started);
    std::string exit = j.exit_code ? std::to_string(*j.exit_code)
                       : j.signal  ? "signal " + std::to_string(*j.signal)
                                   : "-";
    std::string status = engine::job_state_name(j.state);
    if (j.attempts > 1) status += " (" + std::to_string(j.attempts) + " attempts)";
    const auto& u = j.usage;
    rows.push_back(
        {j.name, status, dur, exit, u && u->rss_peak_kb ? memory_kb(*u->rss_peak_kb) : "-"});
    if (!gpus) continue;
    std::vector<std::string> ids;
    for (int g : j.gpus) ids.push_back(std::to_string(g));
    std::string util = "-";
    if (u && u->util_mean && u->util_peak)
      util = fixed("%.0f%%", *u->util_mean) + " / " + std::to_string(*u->util_peak) + "%";
    rows.back().insert(rows.back().end(),
                       {ids.empty() ? "-" : join(ids, ","), util,
                        u && u->mem_peak_mib ? memory_kb(*u->mem_peak_mib * 1024) : "-",
                        u && u->energy_wh ? fixed("%.2f Wh", *u->energy_wh) : "-"});
  }
  const size_t n = rows[0].size();
  std::vector<size_t> w(n, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < n; ++i) w[i] = std::max(w[i], r[i].size());
  std::string out = "\n";
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < n; ++i) {
      line += r[i];
      if (i + 1 < n) line.append(w[i] - r[i].size() + 2, ' ');
    }
    out += std::string(trim(line)) + "\n";
  }
  double total = run.finished > run.started ? run.finished - run.started : 0;
  out += "\nrun " + std::to_string(run.id) + " " + engine::run_state_name(run.state) + " in " +
         format_duration(total) + " — " + run.dir + "\n";
  return out;
}

}  // namespace wfrun::cli
