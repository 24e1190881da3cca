#pragma once
// The workflow-level `github:` block on the command line: a RunObserver that reports the run to
// GitHub when it starts and when it ends, and passes everything on to the terminal printer.

#include <memory>
#include <string>
#include <string_view>

#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::cli {

/// Passes every event on to `inner`; a wrapper overrides what it adds.
class ForwardingObserver : public engine::RunObserver {
 public:
  explicit ForwardingObserver(engine::RunObserver& inner) : inner_(inner) {}
  void run_started(const engine::RunResult& run) override { inner_.run_started(run); }
  void job_started(const std::string& job, int attempt) override {
    inner_.job_started(job, attempt);
  }
  void job_output(const std::string& job, std::string_view line) override {
    inner_.job_output(job, line);
  }
  void job_finished(const engine::JobResult& job) override { inner_.job_finished(job); }
  void run_finished(const engine::RunResult& run) override { inner_.run_finished(run); }
  void heartbeat() override { inner_.heartbeat(); }
  void warning(std::string_view message) override { inner_.warning(message); }

 protected:
  engine::RunObserver& inner_;
};

/// Where the reports go, when the caller knows better than the environment.
struct GithubReportSettings {
  std::string api_url;  // "" = $WFRUN_GITHUB_API_URL, else https://api.github.com
  std::string ca_file;  // "" = $WFRUN_CA_FILE
  std::string run_url;  // the run's page (a status's target_url); "" = none
};

/// An observer for `wf`'s `github:` block wrapping `inner`, or null when the workflow has none.
/// Reporting problems are printed as warnings on stderr; they never fail the run.
std::unique_ptr<engine::RunObserver> make_github_observer(const workflows::Workflow& wf,
                                                          const engine::RunOptions& opts,
                                                          engine::RunObserver& inner,
                                                          const GithubReportSettings& settings = {});

}  // namespace wfrun::cli
