#pragma once
// The dashboard on a cpp-httplib server (the only file of this folder that sees httplib).

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace wfrun::dashboard {

class Dashboard;

/// Sends every GET, HEAD and POST that no route registered before this call takes to `d`
/// (httplib tries routes in the order they were registered). `tls`: the server is HTTPS.
void mount(httplib::Server& server, Dashboard& d, bool tls);

/// One exchange, for a server that routes some dashboard paths itself.
void serve(Dashboard& d, const httplib::Request& req, httplib::Response& res, bool tls);

}  // namespace wfrun::dashboard
