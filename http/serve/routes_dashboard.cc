// The dashboard at / of `wfrun serve` (docs/dashboard.md): the pages, the /api/ routes it
// owns (everything under /api/ but the child's output, GET /api/runs/ID/log, and a followed job
// log, ?follow=1), and the Workflows page's data from `wfrun serve-workflows` children (the
// server process does no git work itself). The dashboard checks access itself: API tokens,
// its session cookie (with CSRF on changes) and run keys.
#include <poll.h>

#include <chrono>
#include <map>
#include <mutex>

#include "base/strings.h"
#include "engine/process.h"
#include "http/dashboard/dashboard.h"
#include "http/dashboard/mount.h"
#include "http/serve/dashboard_source.h"
#include "http/serve/dispatcher.h"
#include "http/serve/reporter.h"
#include "http/serve/run_page.h"
#include "http/serve/server_context.h"
#include "http/serve/signature.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kWorkflowsFresh = std::chrono::seconds(60);
constexpr auto kListTimeout = std::chrono::seconds(120);

bool digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

/// `wfrun serve-workflows` for one repository: its workflows at its default branch, or why not.
json list_workflows(const ServerConfig& cfg, const RepoConfig& repo, const std::string& state_dir) {
  json out = {{"repo", repo.full_name}, {"ref", nullptr}, {"sha", nullptr}, {"workflows", json::array()}};
  std::string token = repo.token;
  if (repo.app) {
    auto t = app_installation_token(cfg, repo);
    if (!t) {
      out["error"] = t.error().str();
      return out;
    }
    token = *t;
  }
  engine::ProcessSpec spec;
  const std::string url =
      repo.clone_url.empty() ? "https://github.com/" + repo.full_name + ".git" : repo.clone_url;
  spec.argv = {"/proc/self/exe", "--state-dir", state_dir, "serve-workflows", "--url", url};
  spec.env = child_environment(cfg);
  if (!token.empty()) spec.env.push_back("WFRUN_GIT_TOKEN=" + token);
  auto p = engine::Subprocess::start(spec);
  if (!p) {
    out["error"] = p.error().str();
    return out;
  }
  std::string text;
  const auto deadline = Clock::now() + kListTimeout;
  char buf[16384];
  while (p->output_fd() >= 0 && Clock::now() < deadline) {
    pollfd fd{p->output_fd(), POLLIN, 0};
    if (::poll(&fd, 1, 1000) <= 0) continue;
    const ssize_t n = ::read(p->output_fd(), buf, sizeof buf);
    if (n > 0) text.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;
    if (text.size() > (8u << 20)) break;
  }
  p->signal_group(SIGTERM);
  p->wait();
  // The child prints one JSON line; stderr (merged) may hold warnings before it.
  const size_t at = text.rfind("\n{");
  json got = json::parse(at == std::string::npos ? text : text.substr(at + 1), nullptr, false);
  if (!got.is_object()) {
    out["error"] = "could not read the workflows of " + repo.full_name + ": " + std::string(trim(text.substr(0, 500)));
    return out;
  }
  if (got.contains("error")) {
    out["error"] = got["error"];
    return out;
  }
  if (got.contains("ref") && got["ref"].is_string()) out["ref"] = got["ref"];
  if (got.contains("sha") && got["sha"].is_string()) out["sha"] = got["sha"];
  if (got.contains("workflows") && got["workflows"].is_array()) out["workflows"] = got["workflows"];
  return out;
}

}  // namespace

/// The dashboard of a server: made on the first request that needs it, so an idle server
/// carries none of it (server_context.h holds it).
struct ServeDashboard {
  ServeDashboard(ServerContext& ctx, dashboard::Options opts)
      : source(*ctx.queue, ctx.config, ctx.state_dir, [&ctx] { ctx.dispatcher->wake(); }),
        dash(std::move(opts), source, ctx.state_dir) {}
  ServeRunSource source;
  dashboard::Dashboard dash;
  std::mutex mu;  // the Workflows page's cache
  std::map<std::string, std::pair<Clock::time_point, json>> workflows;
};

void serve_dashboard(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

bool dashboard_owns(const httplib::Request& req) {
  const std::string& p = req.path;
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (!read && req.method != "POST") return false;
  if (p == "/" || p == "/workflows" || p == "/gpus" || starts_with(p, "/assets/")) return read;
  std::vector<std::string> seg;
  for (const auto& s : split(p, '/'))
    if (!s.empty()) seg.push_back(s);
  // The run page (/runs/ID); /runs/ID/log and /runs/ID/jobs/JOB/log stay the link's text logs.
  if (seg.size() == 2 && seg[0] == "runs" && digits(seg[1])) return read;
  if (seg.empty() || seg[0] != "api") return false;
  if (!read) {
    if (seg.size() == 2) return seg[1] == "login" || seg[1] == "logout" || seg[1] == "runs";
    return seg.size() == 4 && seg[1] == "runs" && digits(seg[2]) && (seg[3] == "cancel" || seg[3] == "rerun");
  }
  if (seg.size() == 2) {
    for (const char* s : {"session", "runs", "events", "gpus", "workflows"})
      if (seg[1] == s) return true;
    return false;
  }
  if (seg[1] != "runs") return false;
  if (seg.size() == 3) return seg[2] == "facets" || digits(seg[2]);
  if (!digits(seg[2])) return false;
  if (seg.size() == 4) return seg[3] == "events";  // not /log: the child's output
  // A followed job log (?follow=1) stays the server's own stream, for bearer tokens.
  if (seg.size() == 6 && seg[5] == "log" && req.has_param("follow")) return false;
  return seg[3] == "jobs" && seg.size() >= 6 &&
         (seg[5] == "log" || seg[5] == "metrics" || seg[5] == "outputs");
}

void add_dashboard_routes(ServerContext& ctx, httplib::Server& http) {
  auto handler = [&ctx](const httplib::Request& req, httplib::Response& res) {
    // A followed job log is the server's own stream (docs/serve.md); the guard checked its
    // bearer token.
    const auto seg = split(req.path, '/');
    if (req.has_param("follow") && seg.size() == 7 && seg[6] == "log")
      return log_stream(ctx, std::atoll(seg[3].c_str()), seg[5], req, res, true);
    if (!dashboard_owns(req)) {
      res.status = 404;
      return;
    }
    serve_dashboard(ctx, req, res);
  };
  // Registered before the other routes: httplib takes the first whose pattern matches.
  for (const char* p : {"/", "/workflows", "/gpus", R"(/assets/[^/]+)", R"(/runs/\d{1,18})",
                        "/api/session", "/api/runs", "/api/runs/facets", "/api/events", "/api/gpus",
                        "/api/workflows", R"(/api/runs/\d{1,18})", R"(/api/runs/\d{1,18}/events)",
                        R"(/api/runs/\d{1,18}/jobs/[^/]+/log(/search)?)", R"(/api/runs/\d{1,18}/jobs/[^/]+/metrics)",
                        R"(/api/runs/\d{1,18}/jobs/[^/]+/outputs/[^/]+(/file)?)"})
    http.Get(p, handler);
  for (const char* p : {"/api/login", "/api/logout", "/api/runs", R"(/api/runs/\d{1,18}/(cancel|rerun))"})
    http.Post(p, handler);
}

void serve_dashboard(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  ServeDashboard* d = nullptr;
  {
    std::lock_guard lock(ctx.dashboard_mu);
    if (!ctx.dashboard) {
      ConfigPtr cfg = ctx.config.get();
      dashboard::Options o;
      auto lower = [](std::string s) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
      };
      if (cfg->host != "0.0.0.0" && cfg->host != "::") o.hosts.push_back(lower(cfg->host));
      if (auto u = split(cfg->public_url, '/'); u.size() >= 3) {
        std::string host = u[2];
        if (host.find('@') != std::string::npos) host = host.substr(host.find('@') + 1);
        if (host.front() == '[') host = host.substr(0, host.find(']') + 1);
        else host = host.substr(0, host.find(':'));
        o.hosts.push_back(lower(host));
      }
      ConfigHolder* holder = &ctx.config;
      o.api_token = [holder](std::string_view token) {
        bool ok = false;
        for (const auto& t : holder->get()->api_tokens) ok |= constant_time_equal(t, std::string(token));
        return ok;
      };
      o.run_key = [holder](std::int64_t id, std::string_view key) { return run_key_ok(*holder->get(), id, key); };
      // Streams hold server threads: at most half of them, so webhooks always find one.
      o.max_streams = std::max(1, cfg->threads / 2);
      o.log = ctx.log;
      ServerContext* c = &ctx;
      o.workflows = [c]() -> Result<json> {
        ServeDashboard& sd = *c->dashboard;
        ConfigPtr cfg = c->config.get();
        json repos = json::array();
        for (const auto& repo : cfg->repositories) {
          {
            std::lock_guard lock(sd.mu);
            auto it = sd.workflows.find(repo.full_name);
            if (it != sd.workflows.end() && Clock::now() - it->second.first < kWorkflowsFresh) {
              repos.push_back(it->second.second);
              continue;
            }
          }
          json got = list_workflows(*cfg, repo, c->state_dir);
          std::lock_guard lock(sd.mu);
          sd.workflows[repo.full_name] = {Clock::now(), got};
          repos.push_back(std::move(got));
        }
        return json{{"repos", std::move(repos)}};
      };
      o.start_run = [c](const json& body) { return c->dashboard->source.start(body); };
      ctx.dashboard = std::make_unique<ServeDashboard>(ctx, std::move(o));
    }
    d = ctx.dashboard.get();
  }
  dashboard::serve(d->dash, req, res, ctx.tls);
}

}  // namespace wfrun::serve
