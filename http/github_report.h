#pragma once
// Reporting a workflow run to GitHub (the workflow-level `github:` block): a commit status or
// a check run (`pending`/`in_progress` at the start, `success`/`failure` at the end, with a
// link), and one Markdown report comment per pull request or commit, edited in place.
// The report's input is plain structs, not engine types, so it can be built and tested alone.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "http/github_client.h"

namespace wfrun::http {

/// One job of a run, as the report shows it. `state`: success, failure, skipped, cancelled,
/// running or pending (anything else is shown as is).
struct JobReport {
  std::string name;
  std::string state;
  double duration_s = 0;
  std::vector<std::pair<std::string, std::string>> outputs;  // name -> value, in order
};

/// A run, as the report shows it. `state` as for jobs.
struct RunReport {
  std::string workflow;  // the workflow's name
  std::string run_id;
  std::string state;
  double duration_s = 0;
  std::string url;  // a link to the run (dashboard), may be empty
  std::vector<JobReport> jobs;
};

/// The workflow's `github:` block, after the workflows layer parsed it and resolved secrets.
struct GithubReportConfig {
  std::string repo;                   // "owner/name"
  std::string token;                  // a token, or
  std::optional<AppCredentials> app;  // a GitHub App (then a check run replaces the status)
  std::string status;                 // context / check run name; "" = no status
  bool comment = false;               // post the Markdown report
  std::string api_url = "https://api.github.com";
};

/// What the run is about: the commit, and the pull request when known.
struct ReportTarget {
  std::string sha;                // required for statuses and check runs
  std::int64_t pull_request = 0;  // 0: look one up by `branch`, else comment on the commit
  std::string branch;
};

/// Remembered between start and finish (the check run to complete).
struct ReportState {
  std::int64_t check_run_id = 0;
};

/// The client for a `github:` block: `api_url` and its token or App; other options
/// (timeouts, retries, test seams) come from `base`.
GithubClient make_report_client(const GithubReportConfig& config, ClientOptions base = {});

/// `<!-- wfrun-report: CONTEXT -->`: marks wfrun's comment so a re-run edits it.
std::string report_marker(const GithubReportConfig& config);

/// The Markdown report: a headline with the run's state and duration, a table of jobs, and
/// their outputs (values cut to 200 characters; the whole under GitHub's 65536 limit).
std::string render_run_report(const RunReport& run);
/// The status description: `3 jobs succeeded in 4m05s`, `job train failed after 12.0s`, ...
std::string status_description(const RunReport& run);

/// Sets `status` to pending (token) or creates an in-progress check run (App).
Result<ReportState> report_run_start(GithubClient& client, const GithubReportConfig& config,
                                     const ReportTarget& target, const RunReport& run);
/// Sets the final status or completes the check run (creating it when `state` has none),
/// then posts or updates the report comment when `comment` is on.
Result<void> report_run_finish(GithubClient& client, const GithubReportConfig& config,
                               const ReportTarget& target, const RunReport& run,
                               const ReportState& state = {});

}  // namespace wfrun::http
