#include "http/dashboard/ui_server.h"

#include <httplib.h>

#include <cerrno>
#include <cstring>

#include "http/dashboard/mount.h"

namespace wfrun::dashboard {

struct UiServer::Impl {
  httplib::Server http;
  int port = 0;
};

Result<std::unique_ptr<UiServer>> UiServer::create(const std::string& host, int port, int threads,
                                                   Dashboard& dashboard) {
  std::unique_ptr<UiServer> s(new UiServer);
  s->impl_ = std::make_unique<Impl>();
  httplib::Server& h = s->impl_->http;
  h.set_tcp_nodelay(true);
  h.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  h.set_read_timeout(std::chrono::seconds(10));
  h.set_write_timeout(std::chrono::seconds(30));
  h.set_keep_alive_timeout(5);
  h.set_payload_max_length(1u << 20);
  if (port == 0) {
    int p = h.bind_to_any_port(host);
    if (p < 0) return Error("cannot listen on " + host + ": " + std::strerror(errno));
    s->impl_->port = p;
  } else {
    if (!h.bind_to_port(host, port))
      return Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno) +
                   " (another program uses the port? pick one with --listen HOST:PORT)");
    s->impl_->port = port;
  }
  mount(h, dashboard, false);
  return s;
}

UiServer::~UiServer() = default;

int UiServer::port() const { return impl_->port; }

void UiServer::run() { impl_->http.listen_after_bind(); }

void UiServer::stop() { impl_->http.stop(); }

}  // namespace wfrun::dashboard
