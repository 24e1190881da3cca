#pragma once
// The outbox of commit statuses: a thread that posts what the queue holds, retrying with
// backoff. A GitHub failure is recorded on the report and never touches the run.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/error.h"
#include "http/serve/config.h"
#include "http/serve/metrics.h"
#include "http/serve/queue.h"

namespace wfrun::http {
struct ClientOptions;
}

namespace wfrun::serve {

/// How the server talks to GitHub for `repo` (its token or App, `github-api`, `ca-file`): one
/// try per request and no long rate-limit sleeps (the caller retries on its own schedule).
http::ClientOptions repo_client_options(const ServerConfig& config, const RepoConfig& repo);

/// An installation token for `repo`'s GitHub App (JWT -> installation -> access token).
Result<std::string> app_installation_token(const ServerConfig& config, const RepoConfig& repo);

class Reporter {
 public:
  Reporter(Queue& queue, ConfigHolder& config, Metrics& metrics,
           std::function<void(const std::string&)> log);
  ~Reporter();
  void start();
  void wake();
  /// Stops the thread (reports not yet sent stay in the outbox for the next start).
  void stop();
  /// Drops cached clients (after a reload).
  void reset_clients();

  /// Delay before try `attempts + 1`: 5 s, 10 s, 20 s, ... at most 10 minutes.
  static double backoff(int attempts);
  static constexpr int kMaxAttempts = 10;

 private:
  void loop();
  Status send(const Report& r);

  Queue& queue_;
  ConfigHolder& config_;
  Metrics& metrics_;
  std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false, reset_ = false;
  std::thread thread_;
};

}  // namespace wfrun::serve
