#include "http/serve/reporter.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "http/github_app.h"
#include "http/github_client.h"
#include "http/serve/run_page.h"

namespace wfrun::serve {

namespace {

http::ClientOptions client_options(const ServerConfig& config) {
  http::ClientOptions o;
  o.base_url = config.github_api;
  o.ca_file = config.ca_file;
  // The outbox retries on its own schedule: one try per request, and no long sleeps in here.
  o.retry.max_attempts = 1;
  o.retry.max_rate_limit_wait = std::chrono::seconds(10);
  o.retry.max_rate_limit_waits = 1;
  o.timeouts.connect = std::chrono::seconds(10);
  o.timeouts.read = std::chrono::seconds(30);
  return o;
}

}  // namespace

http::ClientOptions repo_client_options(const ServerConfig& config, const RepoConfig& repo) {
  http::ClientOptions o = client_options(config);
  if (repo.app) {
    http::AppCredentials a;
    a.app_id = repo.app->app_id;
    a.private_key_pem = repo.app->private_key_pem;
    a.installation_id = repo.app->installation_id;
    a.repo = repo.full_name;
    o.auth.app = a;
  } else {
    o.auth.token = repo.token;
  }
  return o;
}

namespace {

http::GithubClient make_client(const ServerConfig& config, const RepoConfig& repo) {
  return http::GithubClient(repo_client_options(config, repo));
}

}  // namespace

Result<std::string> app_installation_token(const ServerConfig& config, const RepoConfig& repo) {
  if (!repo.app) return Error(repo.full_name + " has no GitHub App configured");
  auto jwt = http::make_app_jwt(repo.app->app_id, repo.app->private_key_pem,
                                std::chrono::system_clock::now());
  if (!jwt) return jwt.error();
  http::GithubClient client(client_options(config));
  http::RequestOptions ro;
  ro.authorization = "Bearer " + *jwt;
  std::int64_t installation = repo.app->installation_id;
  if (installation == 0) {
    auto r = http::Repo::parse(repo.full_name);
    if (!r) return r.error();
    auto res = client.request("GET", r->path() + "/installation", "", ro);
    if (!res) return res.error();
    auto j = res->json();
    if (!j) return j.error();
    if (!j->contains("id") || !(*j)["id"].is_number_integer())
      return Error("GitHub's answer names no installation for " + repo.full_name);
    installation = (*j)["id"].get<std::int64_t>();
  }
  auto res = client.request("POST", "/app/installations/" + std::to_string(installation) +
                                        "/access_tokens", "", ro);
  if (!res) return res.error();
  auto j = res->json();
  if (!j) return j.error();
  if (!j->contains("token") || !(*j)["token"].is_string())
    return Error("GitHub's answer holds no installation token");
  return (*j)["token"].get<std::string>();
}

Reporter::Reporter(Queue& queue, ConfigHolder& config, Metrics& metrics,
                   std::function<void(const std::string&)> log)
    : queue_(queue), config_(config), metrics_(metrics), log_(std::move(log)) {}

Reporter::~Reporter() { stop(); }

void Reporter::start() { thread_ = std::thread([this] { loop(); }); }

void Reporter::wake() {
  std::lock_guard lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

void Reporter::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Reporter::reset_clients() {
  std::lock_guard lock(mu_);
  reset_ = true;
}

double Reporter::backoff(int attempts) {
  return std::min(600.0, 5.0 * std::pow(2.0, std::max(0, attempts)));
}

void Reporter::loop() {
  // One client per repository, kept for its cached App token; rebuilt after a reload.
  std::map<std::string, std::unique_ptr<http::GithubClient>> clients;
  ConfigPtr config = config_.get();
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      if (reset_) {
        clients.clear();
        config = config_.get();
        reset_ = false;
      }
    }
    auto due = queue_.due_reports(now_seconds(), 20);
    if (!due) log_("reporter: " + due.error().str());
    for (const Report& r : due ? *due : std::vector<Report>{}) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      Status sent;
      const RepoConfig* repo = config->repo(r.repo);
      if (!repo) {
        sent = Error(r.repo + " is no longer configured");
      } else {
        try {
          auto& c = clients[repo->full_name];
          if (!c) c = std::make_unique<http::GithubClient>(make_client(*config, *repo));
          auto parsed = http::Repo::parse(repo->full_name);
          if (!parsed) {
            sent = parsed.error();
          } else {
            // Statuses queued with the run's plain link (the webhook's pending one) get its key.
            http::CommitStatus st{r.state, r.context, r.description,
                                  with_run_key(*config, r.run_id, r.target_url)};
            auto id = c->create_status(*parsed, r.sha, st);
            if (!id) sent = id.error();
          }
        } catch (const std::exception& e) {
          // One bad status fails that status, never the reporter.
          sent = Error(std::string("internal error: ") + e.what());
        }
      }
      if (sent) {
        (void)queue_.report_sent(r.id);
        metrics_.report("sent");
        continue;
      }
      const bool give_up = r.attempts + 1 >= kMaxAttempts || !repo;
      (void)queue_.report_failed(r.id, sent.error().str(), now_seconds() + backoff(r.attempts),
                                 give_up);
      metrics_.report(give_up ? "failed" : "retried");
      log_("run " + std::to_string(r.run_id) + ": posting the " + r.state + " status " +
           (give_up ? "failed for good" : "failed (will retry)") + ": " + sent.error().str());
    }
    auto next = queue_.next_report_time();
    double wait = 30;
    if (next && *next > 0) wait = std::clamp(*next - now_seconds(), 0.05, 30.0);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(wait), [&] { return stop_ || woken_; });
    woken_ = false;
  }
}

}  // namespace wfrun::serve
