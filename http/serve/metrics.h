#pragma once
// Counters for GET /metrics (Prometheus text format 0.0.4). Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wfrun::serve {

class Metrics {
 public:
  /// `event` is reduced to push, pull_request, ping or other (unverified deliveries: unverified),
  /// so a client cannot grow the label set.
  void delivery(const std::string& event, const std::string& result);
  void run_finished(const std::string& status, double seconds);
  void report(const std::string& result);  // sent, retried, failed

  /// The text, with the queue's counts by status (read by the caller from the queue).
  std::string render(const std::map<std::string, std::int64_t>& runs_by_status) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::int64_t> deliveries_;
  std::map<std::string, std::int64_t> reports_;
  static constexpr double kBounds[] = {1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600};
  std::vector<std::int64_t> buckets_ = std::vector<std::int64_t>(std::size(kBounds), 0);
  double sum_ = 0;
  std::int64_t count_ = 0;
};

}  // namespace wfrun::serve
