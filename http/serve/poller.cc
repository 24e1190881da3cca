#include "http/serve/poller.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "base/strings.h"
#include "http/github_client.h"
#include "http/github_url.h"
#include "http/serve/reporter.h"
#include "http/serve/webhook.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
using Clock = Poller::Clock;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_sha(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 12 && std::all_of(s.begin(), s.end(), ::isdigit);
}

Clock::duration secs(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string short_sha(const std::string& sha) { return sha.substr(0, 12); }

/// Why a poll stopped, and how long GitHub asked us to wait (rate limits).
struct Failure {
  std::string why;
  std::optional<double> wait;
};

/// A git-refs listing (GET .../git/matching-refs/heads or /tags) as heads under `prefix`.
Result<std::vector<PolledHead>> parse_refs(const json& j, const std::string& prefix) {
  if (!j.is_array()) return Error("expected a JSON array of refs");
  std::vector<PolledHead> out;
  for (const json& r : j) {
    if (!r.is_object() || !r.contains("ref") || !r["ref"].is_string() || !r.contains("object") ||
        !r["object"].is_object())
      return Error("a ref without `ref` and `object`");
    const json& o = r["object"];
    PolledHead h;
    h.ref = r["ref"].get<std::string>();
    h.sha = o.contains("sha") && o["sha"].is_string() ? o["sha"].get<std::string>() : "";
    h.object_type = o.contains("type") && o["type"].is_string() ? o["type"].get<std::string>() : "";
    if (!starts_with(h.ref, prefix)) continue;
    if (!is_sha(h.sha)) return Error(h.ref + ": object.sha is not a commit sha");
    out.push_back(std::move(h));
  }
  return out;
}

/// An open-pull-requests listing (GET .../pulls?state=open) as `refs/pull/N/head` heads.
Result<std::vector<PolledHead>> parse_pulls(const std::vector<json>& pulls) {
  std::vector<PolledHead> out;
  for (const json& p : pulls) {
    if (!p.is_object() || !p.contains("number") || !p["number"].is_number_integer() ||
        !p.contains("head") || !p["head"].is_object() || !p["head"].contains("sha") ||
        !p["head"]["sha"].is_string())
      return Error("a pull request without `number` and `head.sha`");
    PolledHead h;
    h.ref = "refs/pull/" + std::to_string(p["number"].get<std::int64_t>()) + "/head";
    h.sha = p["head"]["sha"].get<std::string>();
    if (!is_sha(h.sha)) return Error(h.ref + ": head.sha is not a commit sha");
    h.pull = p;
    out.push_back(std::move(h));
  }
  return out;
}

/// Seconds until GitHub's rate limit lets us in again, when `r` says it is exhausted.
std::optional<double> rate_limit_wait(const http::ApiResponse& r) {
  const std::string retry_after = r.header("retry-after");
  if (all_digits(retry_after)) return std::stod(retry_after);
  if (r.header("x-ratelimit-remaining") != "0") return std::nullopt;
  const std::string reset = r.header("x-ratelimit-reset");
  if (!all_digits(reset)) return 60.0;
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  return std::max(0.0, std::stod(reset) - now) + 1;  // the reset time is rounded down
}

/// One conditional GET. A 200 or 304 is returned; anything else fills `fail`.
std::optional<http::ApiResponse> fetch(http::GithubClient& client, const std::string& path,
                                       const std::string& etag, Failure& fail) {
  http::RequestOptions ro;
  ro.any_status = true;
  if (!etag.empty()) ro.headers.emplace_back("If-None-Match", etag);
  auto r = client.request("GET", path, "", ro);
  if (!r) {
    fail.why = r.error().message();
    return std::nullopt;
  }
  if (r->status == 200 || r->status == 304) return std::move(*r);
  if (r->status == 403 || r->status == 429) {
    if (auto wait = rate_limit_wait(*r)) {
      fail.why = "GitHub's rate limit is exhausted (GET " + path + ": " + std::to_string(r->status) +
                 "); the next poll waits " + format_duration(*wait);
      fail.wait = wait;
      return std::nullopt;
    }
  }
  http::HttpResponse h{r->status, r->headers, r->body};
  fail.why = http::github_error_message("GET", client.options().base_url + path, h);
  return std::nullopt;
}

}  // namespace

struct Poller::RepoState {
  std::unique_ptr<http::GithubClient> client;
  std::map<std::string, std::string> etags;  // path -> the ETag of the answer processed last
  Clock::time_point next{};
  int failures = 0;
  double server_interval = 0;  // X-Poll-Interval
  std::string last_error;
};

double Poller::backoff(double interval, int failures) {
  double d = interval;
  for (int i = 1; i < failures && d < 600; ++i) d *= 2;
  return std::max(interval, std::min(d, 600.0));
}

Poller::Poller(Queue& queue, ConfigHolder& config, std::function<void()> queued,
               std::function<void(const std::string&)> log)
    : queue_(queue), config_(config), queued_(std::move(queued)), log_(std::move(log)) {}

Poller::~Poller() { stop(); }

void Poller::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void Poller::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Poller::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Poller::loop() {
  ConfigPtr last;
  while (true) {
    ConfigPtr cfg = config_.get();
    if (cfg != last) {
      // A reload: tokens may have changed (new clients), repositories come and go.
      std::map<std::string, std::unique_ptr<RepoState>> kept;
      for (const RepoConfig& rc : cfg->repositories) {
        if (rc.poll <= 0) continue;
        auto& st = kept[lower(rc.full_name)];
        auto old = repos_.find(lower(rc.full_name));
        st = old != repos_.end() ? std::move(old->second) : std::make_unique<RepoState>();
        st->client.reset();
      }
      repos_ = std::move(kept);
      last = cfg;
    }
    Clock::time_point earliest = Clock::time_point::max();
    for (const RepoConfig& rc : cfg->repositories) {
      if (rc.poll <= 0) continue;
      RepoState& st = *repos_[lower(rc.full_name)];
      if (st.next <= Clock::now()) {
        {
          std::lock_guard lock(mu_);
          if (stop_) return;
        }
        try {
          poll(*cfg, rc, st);
        } catch (const std::exception& e) {
          // Hostile input must not end the thread: this repository waits, the others go on.
          ++st.failures;
          st.next = Clock::now() + secs(backoff(rc.poll, st.failures));
          log_("poll " + rc.full_name + ": internal error: " + e.what());
        }
      }
      earliest = std::min(earliest, st.next);
    }
    std::unique_lock lock(mu_);
    if (stop_) return;
    auto ready = [&] { return stop_ || woken_; };
    if (earliest == Clock::time_point::max()) cv_.wait(lock, ready);
    else cv_.wait_until(lock, earliest, ready);
    woken_ = false;
    if (stop_) return;
  }
}

void Poller::poll(const ServerConfig& cfg, const RepoConfig& rc, RepoState& st) {
  const auto started = Clock::now();
  const std::string& name = rc.full_name;
  auto failed = [&](const Failure& f) {
    ++st.failures;
    const double wait = f.wait ? std::max(*f.wait, rc.poll) : backoff(rc.poll, st.failures);
    st.next = started + secs(wait);
    if (f.why != st.last_error)
      log_("poll " + name + ": " + f.why + " (next try in " + format_duration(wait) + ")");
    st.last_error = f.why;
  };
  auto repo = http::Repo::parse(name);
  if (!repo) return failed({repo.error().message(), std::nullopt});
  if (!st.client) {
    http::ClientOptions o = repo_client_options(cfg, rc);
    o.retry.return_rate_limited = true;  // the poller schedules its own retry
    o.timeouts.read = std::chrono::seconds(15);
    st.client = std::make_unique<http::GithubClient>(std::move(o));
  }
  http::GithubClient& client = *st.client;

  // 1. The three listings, conditionally. A 304 leaves its namespace as it was.
  struct Listing {
    std::string path, prefix;
    std::optional<http::ApiResponse> res;
    std::vector<json> more;  // further pages of pull requests
  };
  std::vector<Listing> lists = {
      {repo->path() + "/git/matching-refs/heads", "refs/heads/", std::nullopt, {}},
      {repo->path() + "/git/matching-refs/tags", "refs/tags/", std::nullopt, {}},
      {repo->path() + "/pulls?state=open&per_page=100", "refs/pull/", std::nullopt, {}}};
  double server_interval = 0;
  for (Listing& l : lists) {
    Failure f;
    auto r = fetch(client, l.path, st.etags[l.path], f);
    if (!r) return failed(f);
    const std::string pi = r->header("x-poll-interval");
    if (all_digits(pi)) server_interval = std::max(server_interval, std::stod(pi));
    if (r->status == 304) continue;
    if (auto next = http::link_rel(r->header("link"), "next")) {
      auto rest = client.get_all(*next);
      if (!rest) return failed({rest.error().message(), std::nullopt});
      l.more = std::move(*rest);
    }
    l.res = std::move(*r);
  }
  st.server_interval = server_interval;

  // 2. What changed since the heads recorded in the queue.
  auto seen_opt = queue_.polled_refs(name);
  if (!seen_opt) return failed({seen_opt.error().message(), std::nullopt});
  const bool first = !seen_opt->has_value();
  const std::map<std::string, std::string> seen = first ? std::map<std::string, std::string>() : **seen_opt;
  const bool record_only = first && !cfg.poll_catch_up;
  std::vector<SeenRef> quiet;  // heads to record that start nothing
  int runs = 0;
  for (Listing& l : lists) {
    if (!l.res) continue;
    auto body = l.res->json();
    if (!body) return failed({"GET " + l.path + ": " + body.error().message(), std::nullopt});
    Result<std::vector<PolledHead>> heads = Error("");
    if (l.prefix == "refs/pull/") {
      std::vector<json> all;
      if (body->is_array()) all.assign(body->begin(), body->end());
      all.insert(all.end(), l.more.begin(), l.more.end());
      heads = body->is_array() ? parse_pulls(all) : Result<std::vector<PolledHead>>(Error("expected a JSON array of pull requests"));
    } else {
      heads = parse_refs(*body, l.prefix);
    }
    if (!heads) return failed({"GET " + l.path + ": " + heads.error().message(), std::nullopt});
    const bool pulls = l.prefix == "refs/pull/";
    for (const HeadChange& c : diff_heads(l.prefix, *heads, seen)) {
      if (c.after.empty()) {
        quiet.push_back({name, c.ref, ""});
        if (pulls) {
          quiet.push_back({name, c.ref.substr(0, c.ref.size() - 4) + "closed", c.before});
        } else {
          log_("poll " + name + ": " + c.ref + " was deleted; nothing runs");
        }
        continue;
      }
      if (record_only) {
        quiet.push_back({name, c.ref, c.after});
        continue;
      }
      std::string event = pulls ? "pull_request" : "push";
      json payload;
      if (pulls) {
        payload = pull_payload(rc, cfg, c);
      } else {
        // head_commit (its message decides [skip ci]); an annotated tag names its commit.
        std::string commit_sha = c.after;
        if (c.head && c.head->object_type == "tag") {
          Failure f;
          auto t = fetch(client, repo->path() + "/git/tags/" + c.after, "", f);
          if (!t) return failed(f);
          auto tj = t->json();
          if (!tj || !tj->is_object() || !tj->contains("object") || !(*tj)["object"].is_object())
            return failed({"GET git/tags/" + c.after + ": not a tag object", std::nullopt});
          commit_sha = (*tj)["object"].value("sha", "");
        }
        Failure f;
        auto cm = fetch(client, repo->path() + "/git/commits/" + commit_sha, "", f);
        if (!cm) return failed(f);
        auto cj = cm->json();
        if (!cj) return failed({"GET git/commits/" + commit_sha + ": " + cj.error().message(), std::nullopt});
        payload = push_payload(rc, cfg, c, commit_sha, *cj);
        if (!c.before.empty())
          log_("poll " + name + ": " + c.ref + " moved " + short_sha(c.before) + ".." + short_sha(commit_sha) +
               "; only the newest head runs (pushes in between, if any, do not run on their own)");
      }
      const std::string delivery = "poll:" + event + ":" + name + ":" + c.ref + ":" + c.after + ":" +
                                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch()).count());
      WebhookDecision w = decide_payload(cfg, event, delivery, payload.dump());
      Submission s;
      s.event = event;
      s.source = "poll";
      s.use_decisions = true;
      s.seen.push_back({name, c.ref, c.after});
      if (c.action == "reopened") s.seen.push_back({name, c.ref.substr(0, c.ref.size() - 4) + "closed", ""});
      const std::string what = (pulls ? "pull request " + c.ref + " " + c.action : c.ref) + " at " + short_sha(c.after);
      if (w.status == 202 && !w.runs.empty()) {
        s.delivery = delivery;
        s.runs = std::move(w.runs);
        s.reports = std::move(w.reports);
      } else {
        auto why = json::parse(w.body, nullptr, false);
        log_("poll " + name + ": " + what + ": nothing runs (" +
             (why.is_object() ? why.value("ignored", why.value("error", w.body)) : w.body) + ")");
      }
      const bool has_runs = !s.runs.empty();
      auto got = queue_.submit(std::move(s));
      if (!got) return failed({"cannot record " + what + ": " + got.error().message(), std::nullopt});
      if (!has_runs) continue;
      std::string ids;
      for (auto id : got->runs) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      if (got->duplicate) {
        log_("poll " + name + ": " + what + ": already queued by a webhook delivery (run " + ids + ")");
      } else if (!got->ignored.empty()) {
        log_("poll " + name + ": " + what + ": " + got->ignored);
      } else {
        log_("poll " + name + ": " + what + ": queued run " + ids);
        ++runs;
      }
    }
  }
  if (first) quiet.push_back({name, "", "polled"});
  if (!quiet.empty()) {
    Submission s;
    s.source = "poll";
    s.seen = std::move(quiet);
    const size_t n = s.seen.size() - (first ? 1 : 0);
    auto got = queue_.submit(std::move(s));
    if (!got) return failed({"cannot record the heads: " + got.error().message(), std::nullopt});
    if (record_only)
      log_("poll " + name + ": first poll: recorded " + std::to_string(n) +
           " heads; nothing runs for them (`wfrun serve --catch-up` runs them)");
  }
  if (runs > 0) queued_();

  // 3. Done: remember the ETags of what was processed, and when to poll next.
  for (Listing& l : lists)
    if (l.res && l.more.empty()) st.etags[l.path] = l.res->header("etag");
  if (!st.last_error.empty()) log_("poll " + name + ": polling works again");
  st.last_error.clear();
  st.failures = 0;
  double wait = std::max(rc.poll, st.server_interval);
  for (Listing& l : lists)
    if (l.res)
      if (auto w = rate_limit_wait(*l.res)) wait = std::max(wait, *w);
  st.next = started + secs(wait);
}

}  // namespace wfrun::serve
