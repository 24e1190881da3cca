#pragma once
// Shared test helpers: temporary folders, parsing workflows, recording observers.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::engine::testing {

/// A fresh folder under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

/// A simulated GPU inventory for one test: no real GPU is seen (WFRUN_NVML_LIB and
/// WFRUN_NVIDIA_SMI are "none", whatever this machine has) and WFRUN_FAKE_GPUS is `spec` ("" =
/// no GPU at all); all three are unset again at the end.
class FakeGpus {
 public:
  explicit FakeGpus(const char* spec = "") {
    ::setenv("WFRUN_NVML_LIB", "none", 1);
    ::setenv("WFRUN_NVIDIA_SMI", "none", 1);
    set(spec);
  }
  ~FakeGpus() {
    for (const char* v : {"WFRUN_FAKE_GPUS", "WFRUN_NVML_LIB", "WFRUN_NVIDIA_SMI"}) ::unsetenv(v);
  }
  FakeGpus(const FakeGpus&) = delete;
  FakeGpus& operator=(const FakeGpus&) = delete;
  /// WFRUN_FAKE_GPUS: e.g. "8xH100" or "2xA100,1xT4".
  void set(const char* spec) {
    if (*spec) ::setenv("WFRUN_FAKE_GPUS", spec, 1);
    else ::unsetenv("WFRUN_FAKE_GPUS");
  }
};

/// parse_workflow() or a test failure (and an empty workflow).
workflows::Workflow parse(const std::string& yaml, const std::string& file = "test.yaml");

/// Records everything the engine reports.
class Recorder : public RunObserver {
 public:
  void run_started(const RunResult& run) override { events.push_back("run_started"); }
  void job_started(const std::string& job, int attempt) override {
    events.push_back("start " + job + " " + std::to_string(attempt));
  }
  void job_output(const std::string& job, std::string_view line) override {
    lines[job].emplace_back(line);
    ++line_count;
  }
  void job_finished(const JobResult& job) override {
    events.push_back("finish " + job.name + " " + job_state_name(job.state));
  }
  void run_finished(const RunResult& run) override { events.push_back("run_finished"); }

  std::vector<std::string> events;
  std::map<std::string, std::vector<std::string>> lines;
  size_t line_count = 0;
};

/// RunOptions with a state dir, short kill grace and the rewrite path mode.
RunOptions options(const TempDir& dir);

/// Runs `yaml` and returns the result (a test failure when it could not start).
RunResult run_yaml(const std::string& yaml, const RunOptions& opts, Recorder* rec = nullptr);

const JobResult& job(const RunResult& run, const std::string& name);
std::string read_text(const std::string& path);
double now_seconds();

}  // namespace wfrun::engine::testing
