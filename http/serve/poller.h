#pragma once
// Polling GitHub for new heads, for servers GitHub cannot reach (behind NAT or a firewall):
// every repository with `poll: DURATION` has its branches, tags and open pull requests listed
// with conditional requests (If-None-Match; an unchanged answer is a 304, which GitHub does not
// count against the rate limit). A changed head becomes a synthetic push or pull_request
// payload (marked `"wfrun_polled": true`) that goes through the webhook's decision and the
// queue like a delivery; the heads seen are written in the transaction that queues the run.
// See docs/serve.md, "Polling".

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "http/serve/config.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

/// A head in a listing: `refs/heads/x`, `refs/tags/v1` or `refs/pull/N/head` and its sha.
struct PolledHead {
  std::string ref;
  std::string sha;
  std::string object_type = "commit";  // a tag ref: "tag" for an annotated tag
  nlohmann::json pull;                 // a pull request: its object from the listing
};

/// What one namespace's listing (`refs/heads/`, `refs/tags/` or `refs/pull/`) means against the
/// heads seen before.
struct HeadChange {
  std::string ref;
  std::string before;  // "" = new
  std::string after;   // "" = gone
  std::string action;  // pull requests: opened, synchronize, reopened, closed
  const PolledHead* head = nullptr;  // the listing's entry (null when gone)
};

/// Compares a listing of `prefix` with `seen` (ref -> sha, all namespaces). Pull requests keep
/// `refs/pull/N/closed` for closed ones, so that a reappearing one is `reopened`.
std::vector<HeadChange> diff_heads(const std::string& prefix, const std::vector<PolledHead>& now,
                                   const std::map<std::string, std::string>& seen);

/// The synthetic push payload for a changed branch or tag (`commit`: GET git/commits/SHA's
/// answer, for head_commit; may be null).
nlohmann::json push_payload(const RepoConfig& repo, const ServerConfig& config,
                            const HeadChange& change, const std::string& commit_sha,
                            const nlohmann::json& commit);
/// The synthetic pull_request payload (`action` opened, synchronize or reopened).
nlohmann::json pull_payload(const RepoConfig& repo, const ServerConfig& config,
                            const HeadChange& change);

class Poller {
 public:
  using Clock = std::chrono::steady_clock;
  /// `queued` is called after a run was queued (wakes the dispatcher and the reporter).
  Poller(Queue& queue, ConfigHolder& config, std::function<void()> queued,
         std::function<void(const std::string&)> log);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void start();
  /// Re-reads the configuration (after a reload): new repositories are polled at once,
  /// others keep their schedule.
  void wake();
  void stop();

  /// The wait after `failures` failed polls in a row: the interval doubling, at most 10
  /// minutes (or the interval, when that is longer).
  static double backoff(double interval, int failures);

 private:
  struct RepoState;
  void loop();
  void poll(const ServerConfig& config, const RepoConfig& repo, RepoState& st);

  Queue& queue_;
  ConfigHolder& config_;
  std::function<void()> queued_;
  std::function<void(const std::string&)> log_;
  std::map<std::string, std::unique_ptr<RepoState>> repos_;  // by lower-case full name
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::thread thread_;
};

}  // namespace wfrun::serve
