#pragma once
// `wfrun serve`: the HTTP(S) server (POST /webhook, the API, /healthz, /metrics) around the
// durable queue, the dispatcher and the status reporter. <httplib.h> stays in server.cc.

#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "http/serve/config.h"

namespace wfrun::serve {

/// The largest webhook body GitHub sends (25 MB); larger ones get 413 unread.
constexpr size_t kMaxWebhookBody = 25u << 20;

class Server {
 public:
  /// Opens the queue in `state_dir`, recovers runs a dead server left running, and binds the
  /// listening socket (port 0: any free port; see port()). `log` receives one line per event.
  static Result<std::unique_ptr<Server>> create(ServerConfig config, std::string state_dir,
                                                std::function<void(const std::string&)> log);
  ~Server();

  int port() const;
  /// Serves until shutdown() (call it from another thread). Returns after the runs drained.
  Status run();
  /// Applies a new configuration (SIGHUP). Listen address, TLS, state dir and thread count
  /// need a restart; they are kept, and the log says so.
  void reload(ServerConfig config);
  /// SIGTERM: stop taking requests, give running runs the grace period, cancel the rest.
  void shutdown();

 private:
  Server() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wfrun::serve
