#pragma once
// The dashboard: its pages (embedded, assets.h) and the JSON API they read, behind one
// handle(Request) -> Response. `wfrun ui` serves it for the local run store; `wfrun serve`
// at / for its API tokens' holders and, read-only, for the holders of a run's key.
// docs/dashboard.md describes the API and the access rules.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "http/dashboard/auth.h"
#include "http/dashboard/http.h"
#include "http/dashboard/source.h"

namespace wfrun::engine {
class RunIndex;
}

namespace wfrun::dashboard {

struct Options {
  /// Host names (lower case, no port) the dashboard answers to; others get 403 (DNS
  /// rebinding). IPv6 literals keep their brackets: "[::1]".
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "[::1]"};
  /// Whether `token` is an API token (wfrun serve's `api:` tokens); null: there are none.
  std::function<bool(std::string_view token)> api_token;
  /// Whether `key` opens run `id` read-only (wfrun serve's run links); null: no keys.
  std::function<bool(std::int64_t id, std::string_view key)> run_key;
  /// The Workflows page: {"repos": [{"repo", "ref", "workflows": [...], "error"}]}; null: no
  /// such page (wfrun ui).
  std::function<Result<nlohmann::json>()> workflows;
  /// A manual run from the Workflows page (the body of POST /api/runs); null: not offered.
  std::function<Reply(const nlohmann::json& body)> start_run;
  /// Server-sent event streams open at once (each holds a server thread), and how long one
  /// lasts before the browser reconnects.
  int max_streams = 8;
  double stream_seconds = 30;
  /// How often a stream looks for news.
  double stream_poll_seconds = 0.2;
  std::function<void(const std::string&)> log;
  /// Called when a browser used a one-time login token (wfrun ui prints a fresh link).
  std::function<void()> on_signed_in;
};

class Dashboard {
 public:
  Dashboard(Options options, RunSource& source, std::string state_dir);
  ~Dashboard();

  /// Answers one request (from any thread).
  Response handle(const Request& req);

  Sessions& sessions() { return sessions_; }
  const Options& options() const { return opts_; }

  /// Who sent a request, once checked.
  struct Caller {
    enum Kind { kNobody, kSession, kToken, kRunKey } kind = kNobody;
    std::string csrf;          // kSession
    std::int64_t run_key = 0;  // kRunKey: the one run it may read
    bool full() const { return kind == kSession || kind == kToken; }
  };

 private:
  Caller identify(const Request& req);
  Response page(const Request& req, const Caller& who);
  Response login(const Request& req);
  Response api(const Request& req, const Caller& who);
  Response run_api(const Request& req, const Caller& who, std::int64_t id,
                   const std::vector<std::string>& rest);
  Response job_api(const Request& req, std::int64_t id, const std::string& job,
                   const std::vector<std::string>& rest);
  Response log_window(const Request& req, const JobRef& ref);
  Response log_search(const Request& req, const JobRef& ref);
  Response metrics(const JobRef& ref);
  Response output_files(const Request& req, const JobRef& ref, const std::string& name);
  Response gpus();
  Response run_events(const Request& req, std::int64_t id);
  Response list_events(const Request& req);
  /// A slot for one more stream, or nullptr when max_streams are open.
  std::shared_ptr<void> stream_slot();
  engine::RunIndex* index();

  Options opts_;
  RunSource& source_;
  std::string state_dir_;
  Sessions sessions_;
  std::shared_ptr<std::atomic<int>> streams_ = std::make_shared<std::atomic<int>>(0);
  std::mutex mu_;
  std::unique_ptr<engine::RunIndex> index_;  // opened on first use (metrics, GPUs)
  nlohmann::json gpu_cache_;
  double gpu_cache_at_ = 0;
};

/// A job as the API names it: "JOB", or "N.JOB" for job JOB of a run's N-th workflow ->
/// {workflow ("#N", else `workflow_param`), job}.
std::pair<std::string, std::string> job_address(const std::string& segment,
                                                const std::string& workflow_param);

/// RunQuery from ?status=&workflow=&repo=&branch=&trigger=&limit=&before=&after=, or an
/// Error naming the bad parameter.
Result<RunQuery> run_query(const Request& req);

}  // namespace wfrun::dashboard
