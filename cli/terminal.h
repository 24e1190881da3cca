#pragma once
// The terminal status printer: job output prefixed with the job's name, a live status line on
// a terminal, and the summary table at the end.

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "engine/run.h"

namespace wfrun::cli {

/// Prints a run's progress to a stream. On a terminal it keeps one status line at the bottom
/// showing what is running and for how long; elsewhere it prints plain prefixed lines.
class TerminalPrinter : public engine::RunObserver {
 public:
  TerminalPrinter(std::FILE* out, bool quiet);

  void run_started(const engine::RunResult& run) override;
  void job_started(const std::string& job, int attempt) override;
  void job_output(const std::string& job, std::string_view line) override;
  void job_finished(const engine::JobResult& job) override;
  void run_finished(const engine::RunResult& run) override;
  void heartbeat() override;
  void warning(std::string_view message) override;

 private:
  void clear_status();
  void draw_status();
  std::string prefix(const std::string& job) const;

  std::FILE* out_;
  bool quiet_;
  bool tty_;
  bool status_shown_ = false;
  size_t width_ = 0;  // widest job name, for aligned prefixes
  std::map<std::string, double> running_;  // job -> start time
  std::map<std::string, int> colors_;
};

/// The end-of-run table: job, status, duration, exit code, peak RSS and, when some job had
/// GPUs, its GPUs, their mean / peak utilisation, peak memory and energy; then the run's folder.
std::string summary_table(const engine::RunResult& run);

double now_seconds();

}  // namespace wfrun::cli
