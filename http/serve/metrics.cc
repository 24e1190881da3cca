#include "http/serve/metrics.h"

#include <cstdio>

namespace wfrun::serve {

namespace {

std::string event_label(const std::string& event, const std::string& result) {
  // Neither was checked against a secret: the event name is the sender's word only.
  if (result == "bad_signature" || result == "no_webhooks") return "unverified";
  if (event == "push" || event == "pull_request" || event == "ping") return event;
  return "other";
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::delivery(const std::string& event, const std::string& result) {
  std::lock_guard lock(mu_);
  ++deliveries_[{event_label(event, result), result}];
}

void Metrics::run_finished(const std::string& status, double seconds) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < std::size(kBounds); ++i)
    if (seconds <= kBounds[i]) ++buckets_[i];
  sum_ += seconds;
  ++count_;
}

void Metrics::report(const std::string& result) {
  std::lock_guard lock(mu_);
  ++reports_[result];
}

std::string Metrics::render(const std::map<std::string, std::int64_t>& by_status) const {
  std::lock_guard lock(mu_);
  std::string o;
  o += "# HELP wfrun_webhook_deliveries_total Webhook deliveries received, by event and result.\n";
  o += "# TYPE wfrun_webhook_deliveries_total counter\n";
  for (const auto& [k, v] : deliveries_)
    o += "wfrun_webhook_deliveries_total{event=\"" + k.first + "\",result=\"" + k.second + "\"} " +
         std::to_string(v) + "\n";
  o += "# HELP wfrun_queue_depth Runs waiting to start.\n# TYPE wfrun_queue_depth gauge\n";
  auto q = by_status.find("queued");
  o += "wfrun_queue_depth " + std::to_string(q == by_status.end() ? 0 : q->second) + "\n";
  o += "# HELP wfrun_runs Runs recorded, by status.\n# TYPE wfrun_runs gauge\n";
  for (const char* s : {"queued", "running", "success", "failure", "error", "skipped", "cancelled",
                        "interrupted"}) {
    auto it = by_status.find(s);
    o += std::string("wfrun_runs{status=\"") + s + "\"} " +
         std::to_string(it == by_status.end() ? 0 : it->second) + "\n";
  }
  o += "# HELP wfrun_run_duration_seconds How long finished runs took (since this server started).\n";
  o += "# TYPE wfrun_run_duration_seconds histogram\n";
  for (size_t i = 0; i < std::size(kBounds); ++i)
    o += "wfrun_run_duration_seconds_bucket{le=\"" + num(kBounds[i]) + "\"} " +
         std::to_string(buckets_[i]) + "\n";
  o += "wfrun_run_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  o += "wfrun_run_duration_seconds_sum " + num(sum_) + "\n";
  o += "wfrun_run_duration_seconds_count " + std::to_string(count_) + "\n";
  o += "# HELP wfrun_github_reports_total Commit statuses posted to GitHub, by result.\n";
  o += "# TYPE wfrun_github_reports_total counter\n";
  for (const char* r : {"sent", "retried", "failed"}) {
    auto it = reports_.find(r);
    o += std::string("wfrun_github_reports_total{result=\"") + r + "\"} " +
         std::to_string(it == reports_.end() ? 0 : it->second) + "\n";
  }
  return o;
}

}  // namespace wfrun::serve
