#include "http/serve/server.h"

#include <unistd.h>

#include <thread>

#include "base/strings.h"
#include "http/serve/run_page.h"
#include "http/serve/server_context.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
constexpr size_t kMaxApiBody = 1u << 20;

/// The route groups, registered in this order (server_context.h).
void (*const kRouteGroups[])(ServerContext&, httplib::Server&) = {
    add_webhook_routes, add_health_routes, add_api_routes, add_link_routes};

}  // namespace

struct Server::Impl : ServerContext {
  explicit Impl(ConfigPtr c) : ServerContext(std::move(c)) {}
  std::unique_ptr<httplib::Server> http;
  int port = 0;

  void routes();
};

void Server::Impl::routes() {
  auto& s = *http;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool webhook_path = req.path == "/webhook";
    if (req.has_header("Content-Length")) {
      const unsigned long long len = std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (len > (webhook_path ? kMaxWebhookBody : kMaxApiBody)) {
        if (webhook_path) metrics.delivery(req.get_header_value("X-GitHub-Event"), "too_large");
        res.set_header("Connection", "close");
        reply(res, 413, {{"error", "the body is larger than " + std::to_string((webhook_path ? kMaxWebhookBody : kMaxApiBody) >> 20) + " MB"}});
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
      // The size limit needs a Content-Length; GitHub always sends one.
      res.set_header("Connection", "close");
      reply(res, 411, {{"error", "send the body with a Content-Length"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool guarded = starts_with(req.path, "/api/") || req.path == "/api" ||
                         req.path == "/metrics";
    const bool link = starts_with(req.path, "/runs/") || req.path == "/runs";
    if ((guarded && !authorized(req)) || (link && !link_authorized(req))) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply(res, 401, {{"error", "unauthorized"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  for (auto add : kRouteGroups) add(*this, s);
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) reply(res, 404, {{"error", "not found"}});
    else if (res.status == 413) reply(res, 413, {{"error", "the body is too large"}});
    else reply(res, res.status, {{"error", "HTTP " + std::to_string(res.status)}});
  });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log(req.method + " " + req.path + ": internal error: " + what);
    reply(res, 500, {{"error", "internal error"}});
  });
}

Result<std::unique_ptr<Server>> Server::create(ServerConfig config, std::string state_dir,
                                               std::function<void(const std::string&)> log) {
  std::unique_ptr<Server> srv(new Server);
  // Bind first, so that links (base_url) carry the real port when listen: asked for port 0.
  std::unique_ptr<httplib::Server> http;
  if (!config.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(config.tls_cert.c_str(), config.tls_key.c_str());
    if (!ssl->is_valid())
      return Error(Location{config.file, 0, 0, "tls"},
                   "cannot load the TLS certificate '" + config.tls_cert + "' or key '" + config.tls_key + "'");
    http = std::move(ssl);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  // httplib sends a response's headers and body in two writes: with Nagle's algorithm the body
  // waits for the client's delayed ACK (~40 ms on Linux) whenever the connection is kept alive.
  // Set on the listening socket, so every accepted one inherits it.
  http->set_tcp_nodelay(true);
  if (config.port == 0) {
    int port = http->bind_to_any_port(config.host);
    if (port < 0) return Error("cannot listen on " + config.host + ": " + std::strerror(errno));
    config.port = port;
  } else if (!http->bind_to_port(config.host, config.port)) {
    return Error("cannot listen on " + config.host + ":" + std::to_string(config.port) + ": " +
                 std::strerror(errno));
  }
  const ServerConfig cfg = config;
  srv->impl_ = std::make_unique<Impl>(std::make_shared<const ServerConfig>(std::move(config)));
  Impl& m = *srv->impl_;
  m.state_dir = state_dir;
  m.log = log ? std::move(log) : [](const std::string&) {};
  auto q = Queue::open(state_dir);
  if (!q) return q.error();
  m.queue = std::move(*q);

  // Runs a dead server left running: end any child that outlived it, then requeue once.
  auto rec = m.queue->recover_interrupted(cfg.requeue_interrupted);
  if (!rec) return rec.error();
  for (const auto& r : *rec) {
    Dispatcher::end_orphan(static_cast<pid_t>(r.pid), run_dir(state_dir, r.id), cfg.cancel_grace);
    m.log("run " + std::to_string(r.id) + ": interrupted by a server stop; " +
          (r.status == "queued" ? "queued again" : "not queued again"));
    if (r.status == "interrupted") {
      const RepoConfig* repo = cfg.repo(r.request.repo);
      if (repo && (!repo->token.empty() || repo->app) && !r.request.sha.empty()) {
        Report rep = Report::status(r.id, repo->full_name, r.request.sha, "error", "interrupted by a server stop",
                   run_link(cfg, r.id), cfg.status_context);
        (void)m.queue->finish(r.id, "interrupted", r.message, rep);
      }
    }
  }

  m.http = std::move(http);
  m.port = cfg.port;
  const int threads = cfg.threads;
  m.http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  m.http->set_payload_max_length(kMaxWebhookBody);
  const auto rt = std::chrono::milliseconds(static_cast<long long>(cfg.read_timeout * 1000));
  m.http->set_read_timeout(rt);
  m.http->set_write_timeout(std::chrono::seconds(30));
  m.http->set_keep_alive_timeout(5);
  m.http->set_keep_alive_max_count(1000);
  m.routes();
  m.reporter = std::make_unique<Reporter>(*m.queue, m.config, m.metrics, m.log);
  m.dispatcher = std::make_unique<Dispatcher>(*m.queue, m.config, m.metrics, *m.reporter,
                                              state_dir, m.log);
  return srv;
}

Server::~Server() {
  if (impl_ && impl_->dispatcher) impl_->dispatcher->drain(0);
  if (impl_ && impl_->reporter) impl_->reporter->stop();
}

int Server::port() const { return impl_->port; }

Status Server::run() {
  Impl& m = *impl_;
  m.reporter->start();
  m.dispatcher->start();
  m.log("listening on " + m.config.get()->base_url() + " (port " + std::to_string(m.port) + ")");
  std::thread http([&] { m.http->listen_after_bind(); });
  // shutdown() stops the listener; then the runs drain.
  http.join();
  m.dispatcher->drain(m.config.get()->shutdown_grace);
  m.reporter->stop();
  m.log("stopped");
  return {};
}

void Server::reload(ServerConfig config) {
  Impl& m = *impl_;
  ConfigPtr old = m.config.get();
  if (config.host != old->host || config.port != old->port || config.tls_cert != old->tls_cert ||
      config.tls_key != old->tls_key || config.threads != old->threads)
    m.log("reload: listen, tls and threads changes take effect at the next start");
  config.host = old->host;
  config.port = old->port;
  config.tls_cert = old->tls_cert;
  config.tls_key = old->tls_key;
  config.threads = old->threads;
  m.config.set(std::make_shared<const ServerConfig>(std::move(config)));
  m.reporter->reset_clients();
  m.dispatcher->wake();
  m.log("reloaded the configuration");
}

void Server::shutdown() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) return;
  m.log("shutting down: no new requests; running runs get " +
        format_duration(m.config.get()->shutdown_grace));
  m.http->stop();
}

}  // namespace wfrun::serve
