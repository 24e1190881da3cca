#include "http/serve/server_context.h"

namespace wfrun::serve {

void add_link_routes(ServerContext& ctx, httplib::Server& http) {
  // The run link (key or token): plain logs; no ?follow=1, which would hold a worker thread
  // for whoever has a link. The page itself (/runs/ID) is the dashboard's.
  http.Get(R"(/runs/(\d{1,18})/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), "", req, res, false);
  });
  http.Get(R"(/runs/(\d{1,18})/jobs/([^/]+)/log)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    log_stream(ctx, std::atoll(req.matches[1].str().c_str()), req.matches[2].str(), req, res, false);
  });
}

}  // namespace wfrun::serve
