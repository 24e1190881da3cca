#include "http/serve/run_page.h"
#include "http/serve/server_context.h"

namespace wfrun::serve {

namespace {

void run_page(ServerContext& ctx, std::int64_t id, httplib::Response& res) {
  auto row = ctx.queue->get(id);
  if (!row || !*row) {
    // Only a holder of the key (or a token) gets here: saying that the run is gone is fine.
    res.status = row ? 404 : 500;
    res.set_content(row ? "no such run\n" : "internal error\n", "text/plain; charset=utf-8");
    return;
  }
  ConfigPtr cfg = ctx.config.get();
  const std::string page = render_run_page(run_json(**row, *cfg), workflows_of(ctx, id), run_key(*cfg, id));
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  res.set_content(page, "text/html; charset=utf-8");
}

}  // namespace

void add_link_routes(ServerContext& ctx, httplib::Server& http) {
  // The run link (key or token): a read-only page and plain logs; no ?follow=1, which would
  // hold a worker thread for whoever has a link.
  http.Get(R"(/runs/(\d{1,18}))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    run_page(ctx, std::atoll(req.matches[1].str().c_str()), res);
  });
  http.Get(R"(/runs/(\d{1,18})/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), "", req, res, false);
  });
  http.Get(R"(/runs/(\d{1,18})/jobs/([^/]+)/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), req.matches[2].str(), req, res, false);
  });
}

}  // namespace wfrun::serve
