#pragma once
// Inside `wfrun serve`'s HTTP side: what the route handlers share (the configuration, the
// queue, the dispatcher, ...) and one function per group of routes, each group in its own
// file. To add a group: declare its add_*_routes here, define it in its own .cc and list it in
// kRouteGroups (server.cc). The guard in server.cc already asks every /api/* and /metrics
// request for a bearer token, and every /runs/* request for its run's key, before any route.
// <httplib.h> is included here and by the server's own files only.

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "http/serve/config.h"
#include "http/serve/dispatcher.h"
#include "http/serve/metrics.h"
#include "http/serve/queue.h"
#include "http/serve/reporter.h"

namespace wfrun::serve {

struct ServeDashboard;  // routes_dashboard.cc

/// What every route handler may use. Owned by the Server; lives as long as it serves.
struct ServerContext {
  explicit ServerContext(ConfigPtr c) : config(std::move(c)) {}
  ConfigHolder config;
  std::string state_dir;
  std::function<void(const std::string&)> log;
  std::unique_ptr<Queue> queue;
  Metrics metrics;
  std::unique_ptr<Reporter> reporter;
  std::unique_ptr<Dispatcher> dispatcher;
  std::atomic<bool> stopping{false};
  bool tls = false;
  /// The dashboard (routes_dashboard.cc), made on the first request that needs it.
  std::mutex dashboard_mu;
  std::shared_ptr<ServeDashboard> dashboard;

  /// `Authorization: Bearer TOKEN` with a token from `api:`.
  bool authorized(const httplib::Request& req) const;
  /// GET /runs/ID...?key=K: the run's capability link (see run_page.h), or a bearer token.
  bool link_authorized(const httplib::Request& req) const;
};

/// A JSON answer (one line).
void reply(httplib::Response& res, int status, const nlohmann::json& body);
/// A run as the API shows it (GET /api/runs, /api/runs/ID, the run page).
nlohmann::json run_json(const RunRow& r, const ServerConfig& config);
/// Run `id`'s workflows from its result.json, each with its jobs from the run store.
nlohmann::json workflows_of(const ServerContext& ctx, std::int64_t id);
/// GET .../ID/log and .../ID/jobs/JOB/log: the child's output, or one job's log;
/// `?follow=1` (when `allow_follow`) streams until the run ends.
void log_stream(ServerContext& ctx, std::int64_t id, const std::string& job,
                const httplib::Request& req, httplib::Response& res, bool allow_follow);

/// Whether the dashboard answers this request: its pages, /runs/ID and most of /api/. It checks
/// access itself (API tokens, its session cookie, run keys), so the guard lets these through.
bool dashboard_owns(const httplib::Request& req);

// The route groups (kRouteGroups in server.cc registers them in this order).
/// The dashboard (routes_dashboard.cc); first, so that its routes win.
void add_dashboard_routes(ServerContext& ctx, httplib::Server& http);
/// POST /webhook (routes_webhook.cc).
void add_webhook_routes(ServerContext& ctx, httplib::Server& http);
/// GET /healthz, GET /metrics (routes_api.cc).
void add_health_routes(ServerContext& ctx, httplib::Server& http);
/// /api/runs/ID/log, a followed job log (routes_api.cc).
void add_api_routes(ServerContext& ctx, httplib::Server& http);
/// /runs/ID/log, /runs/ID/jobs/JOB/log: the run link's logs as text (routes_links.cc).
void add_link_routes(ServerContext& ctx, httplib::Server& http);

}  // namespace wfrun::serve
