#include "http/serve/server_context.h"

namespace wfrun::serve {

void add_health_routes(ServerContext& ctx, httplib::Server& http) {
  http.Get("/healthz", [&ctx](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, {{"status", ctx.stopping ? "stopping" : "ok"}, {"running", ctx.dispatcher->running()}});
  });
  http.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    auto counts = ctx.queue->count_by_status();
    if (!counts) return reply(res, 500, {{"error", counts.error().str()}});
    res.set_content(ctx.metrics.render(*counts), "text/plain; version=0.0.4");
  });
}

void add_api_routes(ServerContext& ctx, httplib::Server& http) {
  // GET/POST /api/runs, /api/runs/ID, cancel and the job endpoints are the dashboard's
  // (routes_dashboard.cc, registered first), in the same shapes as before plus its fields.
  http.Get(R"(/api/runs/(\d{1,18})/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), "", req, res, true);
  });
}

}  // namespace wfrun::serve
