#include <algorithm>
#include <cctype>

#include "base/log.h"
#include "base/strings.h"
#include "http/github_app.h"
#include "http/github_client.h"
#include "http/github_client_state.h"
#include "http/github_url.h"

namespace wfrun::http {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string short_duration(milliseconds ms) {
  return format_duration(static_cast<double>(ms.count()) / 1000.0);
}

}  // namespace

Result<HttpResponse> GithubClient::send_with_retries(HttpRequest req,
                                                     const std::string& followed_from) {
  const RetryPolicy& p = opts_.retry;
  int attempt = 0;
  int rate_waits = 0;
  while (true) {
    ++attempt;
    if (opts_.on_request)
      opts_.on_request(SentRequest{req.method, req.url, req.body, followed_from});
    const auto t0 = std::chrono::steady_clock::now();
    auto res = state_->transport->send(req);
    if (debug_enabled()) {
      const auto ms =
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
      debug_log("github", req.method + " " + redact_url(req.url) + " -> " +
                              (res ? std::to_string(res->status) : res.error().message()) + " (" +
                              std::to_string(ms.count()) + " ms)");
    }
    auto backoff = [&]() {
      auto d = p.base_delay * (1LL << std::min(attempt - 1, 20));
      if (d > p.max_delay) d = p.max_delay;
      // Full jitter over the upper half: clients that failed together do not retry together.
      std::uniform_int_distribution<long long> dist(d.count() / 2, d.count());
      return milliseconds(dist(state_->rng));
    };
    if (!res) {
      if (attempt >= p.max_attempts) {
        return Error(res.error().message() + " (after " + std::to_string(attempt) +
                     (attempt == 1 ? " attempt)" : " attempts)"));
      }
      opts_.sleep(backoff());
      continue;
    }
    const int status = res->status;
    if (status >= 500) {
      if (attempt >= p.max_attempts) return res;
      opts_.sleep(backoff());
      continue;
    }
    if (status == 403 || status == 429) {
      const std::string retry_after = res->header("retry-after");
      const std::string remaining = res->header("x-ratelimit-remaining");
      std::optional<milliseconds> wait;
      std::string resets;
      if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
        wait = seconds(std::stoll(retry_after));
      } else if (remaining == "0") {
        const std::string reset = res->header("x-ratelimit-reset");
        const auto now = opts_.now();
        if (!reset.empty() && std::all_of(reset.begin(), reset.end(), ::isdigit)) {
          const auto at = std::chrono::system_clock::time_point(seconds(std::stoll(reset)));
          resets = format_github_time(at);
          // One second more: the reset time is rounded down.
          wait = std::max(milliseconds(0),
                          std::chrono::duration_cast<milliseconds>(at - now) + seconds(1));
        } else {
          wait = seconds(60);
        }
      } else if (status == 429) {
        wait = seconds(60);  // GitHub: wait at least a minute when it says nothing else
      }
      if (wait) {
        if (p.return_rate_limited) return res;
        if (*wait <= p.max_rate_limit_wait && rate_waits < p.max_rate_limit_waits) {
          ++rate_waits;
          debug_log("github", "rate limited; waiting " + short_duration(*wait));
          opts_.sleep(*wait);
          continue;
        }
        std::string msg =
            github_error_message(req.method, req.url, *res) + ": GitHub's rate limit is exhausted";
        if (!resets.empty()) {
          msg += "; it resets at " + resets + " (in " + short_duration(*wait) + ")";
        } else {
          msg += "; GitHub asked to wait " + short_duration(*wait);
        }
        if (*wait > p.max_rate_limit_wait) {
          msg += ", longer than the " + short_duration(p.max_rate_limit_wait) + " wfrun waits";
        } else {
          msg += " (gave up after " + std::to_string(rate_waits) + " waits)";
        }
        return Error(msg);
      }
    }
    return res;
  }
}

}  // namespace wfrun::http
