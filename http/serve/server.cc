#include "http/serve/server.h"

#include <malloc.h>
#include <unistd.h>

#include "base/strings.h"
#include "http/serve/front_end.h"
#include "http/serve/json_text.h"
#include "http/serve/poller.h"
#include "http/serve/run_page.h"
#include "http/serve/server_context.h"
#include "http/serve/signature.h"
#include "http/serve/webhook.h"

namespace wfrun::serve {

namespace {

using nlohmann::json;
constexpr size_t kMaxApiBody = 1u << 20;

/// The route groups, registered in this order (server_context.h).
void (*const kRouteGroups[])(ServerContext&, httplib::Server&) = {
    add_dashboard_routes, add_webhook_routes, add_health_routes, add_api_routes, add_link_routes};

/// The webhook's signature, computed as the body arrives: a forged body is refused as soon as
/// its last byte is in, before any worker or parser sees it.
class SignatureCheck : public BodyCheck {
 public:
  SignatureCheck(const std::string& secret, std::string header, std::string event, Metrics& metrics)
      : hmac_(secret), header_(std::move(header)), event_(std::move(event)), metrics_(metrics) {}
  void update(const char* data, size_t n) override { hmac_.update(std::string_view(data, n)); }
  int finish(std::string* body) override {
    if (signature_matches(hmac_.hex(), header_)) return 0;
    metrics_.delivery(event_, "bad_signature");
    *body = json_text({{"error", "signature mismatch"}});
    return 401;
  }

 private:
  HmacSha256 hmac_;
  std::string header_, event_;
  Metrics& metrics_;
};

/// True when the query of `target` has NAME=VALUE.
bool has_param(const std::string& target, const std::string& name, const std::string& value) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return false;
  for (const auto& part : split(target.substr(q + 1), '&'))
    if (part == name + "=" + value) return true;
  return false;
}

}  // namespace

struct Server::Impl : ServerContext {
  explicit Impl(ConfigPtr c) : ServerContext(std::move(c)) {}
  std::unique_ptr<Router> http;
  std::unique_ptr<FrontEnd> front;
  int port = 0;
  std::unique_ptr<Poller> poller;  // repositories with `poll:`

  void routes();
  HeadDecision head(const RequestHead& h);
};

HeadDecision Server::Impl::head(const RequestHead& h) {
  HeadDecision d;
  if (h.path != "/webhook") {
    d.max_body = kMaxApiBody;
    // Answers that last (`?follow=1`, server-sent events) get their own threads.
    d.streams = h.method == "GET" && (has_param(h.target, "follow", "1") ||
                                      h.header("Accept").find("text/event-stream") != std::string::npos);
    return d;
  }
  d.max_body = kMaxWebhookBody;
  const std::string event = h.header("X-GitHub-Event");
  if (h.content_length > kMaxWebhookBody) {
    metrics.delivery(event, "too_large");
    d.status = 413;
    d.body = json_text({{"error", "the body is larger than " + std::to_string(kMaxWebhookBody >> 20) + " MB"}});
    return d;
  }
  if (h.method == "POST" && config.get()->webhook_secret.empty()) {
    metrics.delivery(event, "no_webhooks");
    d.status = 403;
    d.body = json_text({{"error", kNoWebhooks}});
    return d;
  }
  if (h.method == "POST") {
    // Nothing unsigned is read: the answer comes from the head.
    const std::string sig = h.header("X-Hub-Signature-256");
    if (!signature_shaped(sig)) {
      metrics.delivery(event, "bad_signature");
      d.status = 401;
      d.body = json_text({{"error", sig.empty() ? "missing X-Hub-Signature-256" : "signature mismatch"}});
      return d;
    }
    d.check = std::make_unique<SignatureCheck>(config.get()->webhook_secret, sig, event, metrics);
  }
  return d;
}

void Server::Impl::routes() {
  auto& s = *http;
  // Framing, sizes and the webhook's signature were checked by the front end (head()).
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // The dashboard's routes check access themselves (tokens, its cookie, run keys).
    const bool guarded = (starts_with(req.path, "/api/") || req.path == "/api" ||
                          req.path == "/metrics") && !dashboard_owns(req);
    const bool link = (starts_with(req.path, "/runs/") || req.path == "/runs") && !dashboard_owns(req);
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
  // Bodies of up to 25 MB come and go: every buffer over 256 KB gets its own mapping, given
  // back when freed (glibc's default threshold grows with use, and then keeps such buffers).
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  std::unique_ptr<Server> srv(new Server);
  srv->impl_ = std::make_unique<Impl>(std::make_shared<const ServerConfig>(config));
  Impl& m = *srv->impl_;
  m.state_dir = state_dir;
  m.log = log ? std::move(log) : [](const std::string&) {};
  m.http = std::make_unique<Router>();
  // Bind first, so that links (base_url) carry the real port when listen: asked for port 0.
  FrontEndOptions fo;
  fo.request_deadline = config.read_timeout;
  fo.workers = config.threads;
  fo.max_connections = config.max_connections;
  fo.max_per_address = config.max_connections_per_address;
  auto front = FrontEnd::bind(config.host, config.port, config.tls_cert, config.tls_key, fo, *m.http,
                              [&m](const RequestHead& h) { return m.head(h); }, m.log);
  if (!front) {
    if (!config.tls_cert.empty() && starts_with(front.error().message(), "cannot load the TLS"))
      return Error(Location{config.file, 0, 0, "tls"}, front.error().message());
    return front.error();
  }
  m.front = std::move(*front);
  config.port = m.front->port();
  if (auto s = keep_link_secret(config, state_dir); !s) return s.error();
  const ServerConfig cfg = config;
  m.tls = !cfg.tls_cert.empty();
  m.config.set(std::make_shared<const ServerConfig>(std::move(config)));
  auto q = Queue::open(state_dir);
  if (!q) return q.error();
  m.queue = std::move(*q);

  // Runs a dead server left running: end any child that outlived it, then requeue once.
  auto rec = m.queue->recover_interrupted(cfg.requeue_interrupted);
  if (!rec) return rec.error();
  for (const auto& r : *rec) {
    Dispatcher::end_orphan(static_cast<pid_t>(r.pid), run_dir(state_dir, r.id), cfg.cancel_grace,
                           r.status == "queued");
    m.log("run " + std::to_string(r.id) + ": interrupted by a server stop; " +
          (r.status == "queued" ? "queued again" : "not queued again"));
    if (r.status == "interrupted") {
      (void)::unlink((run_dir(state_dir, r.id) + "/payload.json").c_str());  // kept in queue.db
      const RepoConfig* repo = cfg.repo(r.request.repo);
      if (repo && (!repo->token.empty() || repo->app) && !r.request.sha.empty()) {
        Report rep = Report::status(r.id, repo->full_name, r.request.sha, "error", "interrupted by a server stop",
                   run_link(cfg, r.id), cfg.status_context);
        (void)m.queue->finish(r.id, "interrupted", r.message, rep);
      }
    }
  }

  m.port = cfg.port;
  m.http->set_payload_max_length(kMaxWebhookBody);
  m.routes();
  m.reporter = std::make_unique<Reporter>(*m.queue, m.config, m.metrics, m.log);
  m.dispatcher = std::make_unique<Dispatcher>(*m.queue, m.config, m.metrics, *m.reporter,
                                              state_dir, m.log);
  m.poller = std::make_unique<Poller>(*m.queue, m.config, [&m] {
    m.dispatcher->wake();
    m.reporter->wake();
  }, m.log);
  return srv;
}

Server::~Server() {
  if (impl_ && impl_->poller) impl_->poller->stop();
  if (impl_ && impl_->dispatcher) impl_->dispatcher->drain(0);
  if (impl_ && impl_->reporter) impl_->reporter->stop();
}

int Server::port() const { return impl_->port; }

Status Server::run() {
  Impl& m = *impl_;
  m.reporter->start();
  m.dispatcher->start();
  m.poller->start();
  m.log("listening on " + m.config.get()->base_url() + " (port " + std::to_string(m.port) + ")");
  // Until shutdown() stops the front end; then the runs drain.
  m.front->run();
  m.poller->stop();
  m.dispatcher->drain(m.config.get()->shutdown_grace);
  m.reporter->stop();
  m.log("stopped");
  return {};
}

void Server::reload(ServerConfig config) {
  Impl& m = *impl_;
  ConfigPtr old = m.config.get();
  if (auto s = keep_link_secret(config, m.state_dir); !s) {
    m.log("reload failed, keeping the old configuration: " + s.error().str());
    return;
  }
  if (config.host != old->host || config.port != old->port || config.tls_cert != old->tls_cert ||
      config.tls_key != old->tls_key || config.threads != old->threads ||
      config.read_timeout != old->read_timeout || config.max_connections != old->max_connections ||
      config.max_connections_per_address != old->max_connections_per_address)
    m.log("reload: listen, tls, threads, read-timeout and max-connections changes take effect at "
          "the next start");
  config.host = old->host;
  config.port = old->port;
  config.tls_cert = old->tls_cert;
  config.tls_key = old->tls_key;
  config.threads = old->threads;
  config.read_timeout = old->read_timeout;
  config.max_connections = old->max_connections;
  config.max_connections_per_address = old->max_connections_per_address;
  m.config.set(std::make_shared<const ServerConfig>(std::move(config)));
  m.reporter->reset_clients();
  m.dispatcher->wake();
  m.poller->wake();
  m.log("reloaded the configuration");
}

void Server::shutdown() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) return;
  m.log("shutting down: no new requests; running runs get " +
        format_duration(m.config.get()->shutdown_grace));
  m.front->stop();
}

}  // namespace wfrun::serve
