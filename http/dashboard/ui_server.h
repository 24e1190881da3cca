#pragma once
// The HTTP server of `wfrun ui`: the dashboard alone, on a loopback address by default.

#include <memory>
#include <string>

#include "base/error.h"

namespace wfrun::dashboard {

class Dashboard;

class UiServer {
 public:
  /// Binds host:port (port 0: any free port) with `threads` workers.
  static Result<std::unique_ptr<UiServer>> create(const std::string& host, int port, int threads,
                                                  Dashboard& dashboard);
  ~UiServer();
  int port() const;
  /// Serves until stop() (from another thread or a signal handler thread).
  void run();
  void stop();

 private:
  UiServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wfrun::dashboard
