#include "cli/github_observer.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "base/strings.h"
#include "engine/context.h"
#include "http/github_report.h"

namespace wfrun::cli {
namespace {

std::string job_state(engine::JobState s) {
  switch (s) {
    case engine::JobState::kSucceeded:
      return "success";
    case engine::JobState::kFailed:
    case engine::JobState::kTimedOut:
      return "failure";
    case engine::JobState::kSkipped:
      return "skipped";
    case engine::JobState::kCancelled:
    case engine::JobState::kInterrupted:
      return "cancelled";
    case engine::JobState::kRunning:
      return "running";
    default:
      return "pending";
  }
}

std::string run_state(engine::RunState s) {
  switch (s) {
    case engine::RunState::kSucceeded:
      return "success";
    case engine::RunState::kFailed:
      return "failure";
    case engine::RunState::kCancelled:
    case engine::RunState::kInterrupted:
      return "cancelled";
    default:
      return "running";
  }
}

class GithubObserver : public ForwardingObserver {
 public:
  GithubObserver(http::GithubReportConfig config, http::ReportTarget target, std::string workflow,
                 engine::RunObserver& inner, const GithubReportSettings& settings)
      : ForwardingObserver(inner),
        config_(std::move(config)),
        target_(std::move(target)),
        workflow_(std::move(workflow)),
        run_url_(settings.run_url),
        client_(http::make_report_client(config_, client_options(settings))) {}

  void run_started(const engine::RunResult& run) override {
    inner_.run_started(run);
    auto st = http::report_run_start(client_, config_, target_, report(run));
    if (st)
      state_ = *st;
    else
      warn(st.error());
  }
  void run_finished(const engine::RunResult& run) override {
    if (auto r = http::report_run_finish(client_, config_, target_, report(run), state_); !r)
      warn(r.error());
    inner_.run_finished(run);
  }

 private:
  static http::ClientOptions client_options(const GithubReportSettings& settings) {
    http::ClientOptions o;
    if (!settings.ca_file.empty())
      o.ca_file = settings.ca_file;
    else if (const char* ca = std::getenv("WFRUN_CA_FILE"); ca && *ca)
      o.ca_file = ca;
    return o;
  }
  http::RunReport report(const engine::RunResult& run) const {
    http::RunReport r;
    r.workflow = workflow_;
    r.run_id = std::to_string(run.id);
    r.state = run_state(run.state);
    r.url = run_url_;
    if (run.started > 0 && run.finished >= run.started) r.duration_s = run.finished - run.started;
    for (const auto& j : run.jobs) {
      http::JobReport jr;
      jr.name = j.name;
      jr.state = job_state(j.state);
      if (j.started > 0 && j.finished >= j.started) jr.duration_s = j.finished - j.started;
      for (const auto& [k, v] : j.outputs) jr.outputs.emplace_back(k, v);
      r.jobs.push_back(std::move(jr));
    }
    return r;
  }
  static void warn(const Error& e) {
    std::fprintf(stderr, "wfrun: warning: reporting to GitHub: %s\n", e.str().c_str());
  }

  http::GithubReportConfig config_;
  http::ReportTarget target_;
  std::string workflow_;
  std::string run_url_;
  http::GithubClient client_;
  http::ReportState state_;
};

void warn_off(const std::string& why) {
  std::fprintf(stderr, "wfrun: warning: not reporting to GitHub: %s\n", why.c_str());
}

}  // namespace

std::unique_ptr<engine::RunObserver> make_github_observer(const workflows::Workflow& wf,
                                                          const engine::RunOptions& opts,
                                                          engine::RunObserver& inner,
                                                          const GithubReportSettings& settings) {
  if (!wf.github) return nullptr;
  const workflows::GithubBlock& g = *wf.github;
  auto secret = [&](const std::string& ref) -> std::string {
    auto name = workflows::secret_name(ref);
    if (!name) return "";
    auto it = opts.secrets.find(*name);
    return it == opts.secrets.end() ? "" : it->second;
  };
  http::GithubReportConfig c;
  if (!settings.api_url.empty())
    c.api_url = settings.api_url;
  else if (const char* api = std::getenv("WFRUN_GITHUB_API_URL"); api && *api)
    c.api_url = api;
  c.status = g.status;
  c.comment = g.comment;
  // What the run is about: the triggering event, else the checkout the workflow lives in.
  engine::GithubInfo info(opts.event, opts.workflow_dir.empty()
                                          ? std::filesystem::path(wf.file).parent_path().string()
                                          : opts.workflow_dir);
  c.repo = g.repo.empty() ? info.lookup("repository").value_or("") : g.repo;
  if (c.repo.empty()) {
    warn_off("no 'github.repo' and no event or git checkout with a GitHub origin names one");
    return nullptr;
  }
  if (!g.app_id.empty()) {
    http::AppCredentials app;
    app.app_id = g.app_id;
    app.private_key_pem = secret(g.app_key);
    app.installation_id = g.app_installation;
    app.repo = c.repo;
    c.app = app;
  } else {
    c.token = g.token.empty() ? secret("secret:GITHUB_TOKEN") : secret(g.token);
    if (c.token.empty()) {
      warn_off("no token: give 'github.token: secret:NAME' or a GITHUB_TOKEN secret");
      return nullptr;
    }
  }
  http::ReportTarget t;
  t.sha = info.lookup("sha").value_or("");
  std::string ref = info.lookup("ref").value_or("");
  if (starts_with(ref, "refs/heads/")) t.branch = ref.substr(11);
  if (opts.event && opts.event->is_object()) {
    const auto& ev = *opts.event;
    if (ev.contains("pull_request") && ev["pull_request"].is_object())
      t.pull_request = ev["pull_request"].value("number", static_cast<std::int64_t>(0));
  }
  if (t.sha.empty()) {
    warn_off("no commit to report on (no event and no git checkout)");
    return nullptr;
  }
  std::string name = std::filesystem::path(wf.file).stem().string();
  return std::make_unique<GithubObserver>(std::move(c), std::move(t), name, inner, settings);
}

}  // namespace wfrun::cli
