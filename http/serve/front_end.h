#pragma once
// The front end of `wfrun serve`: one thread (epoll) accepts the connections and reads each
// request whole, head and body, under one deadline for the whole request, before a worker
// thread sees it. A client that trickles a byte now and then costs a socket and a small buffer,
// never a worker, so it cannot starve anyone (cpp-httplib 0.11 has a per-read timeout only,
// which a trickle never trips). A worker then hands the complete request to cpp-httplib's
// router, which writes the answer; answers may stream as long as they like: the deadline is on
// reading the request, not on writing the answer.
//
// The framing is checked here, on the raw bytes, before httplib decodes anything: one
// Content-Length (digits only) and no Transfer-Encoding (with a Content-Length: 400, the
// request-smuggling shape; without: 411), no Content-Encoding, no control bytes (NUL
// included) in a header, a body that arrives whole before the deadline (else 408 and nothing
// is served). The server's head hook sees each head before its body is read: it sets the body
// limit, may answer at once (a webhook without a signature: 401, body unread), may watch the
// body as it arrives (the webhook's HMAC), and says which answers stream (their own threads,
// so that server-sent events never hold the workers).
// Only the serve library includes this header (it includes <httplib.h>).

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "http/serve/request_head.h"

namespace wfrun::serve {

/// Watches a request's body as it arrives (the webhook's signature).
class BodyCheck {
 public:
  virtual ~BodyCheck() = default;
  virtual void update(const char* data, size_t n) = 0;
  /// After the last byte: 0 to serve the request, or a status to answer instead (with `*body`,
  /// JSON) without serving it.
  virtual int finish(std::string* body) = 0;
};

/// What the server says about a request's head, before its body is read.
struct HeadDecision {
  int status = 0;    // not 0: answer this at once with `body` (JSON), leave the body unread, close
  std::string body;
  std::uint64_t max_body = 1u << 20;  // a larger Content-Length: 413, unread
  bool streams = false;  // the answer may last (server-sent events, ?follow=1): its own thread
  std::unique_ptr<BodyCheck> check;
};

struct FrontEndOptions {
  double request_deadline = 10;  // seconds from a request's first byte to its last
  double idle_timeout = 5;       // seconds a connection may wait for its next request
  double write_timeout = 30;     // seconds one write of an answer may block
  int workers = 8;               // threads serving complete requests
  int max_streams = 32;          // streaming answers at once (beyond: 503)
  int max_connections = 1000;    // open connections (beyond: 503 and close)
  int max_per_address = 256;     // open connections from one client address
  size_t max_head = 64u << 10;   // request line and headers
  int keep_alive_max = 1000;     // requests on one connection
};

/// cpp-httplib's server used as a router only: the front end owns the sockets.
class Router : public httplib::Server {
 public:
  /// Serves one complete request from `strm` (routing, handlers, the answer). False when the
  /// connection must be closed.
  bool serve(httplib::Stream& strm, bool close_connection, bool& connection_closed,
             const std::function<void(httplib::Request&)>& setup) {
    return process_request(strm, close_connection, connection_closed, setup);
  }
  /// httplib ends a streaming answer as soon as it believes its listening socket closed, and it
  /// never opens one here: the front end says "open" while it serves and "closed" at stop().
  void set_serving(bool serving) { svr_sock_ = serving ? 0 : INVALID_SOCKET; }
};

class FrontEnd {
 public:
  using HeadHook = std::function<HeadDecision(const RequestHead&)>;

  /// Binds HOST:PORT (port 0: any free port); HTTPS when `tls_cert` is set. Requests go through
  /// `hook` (its head) and then to `router`. `log` gets one line per unexpected event.
  static Result<std::unique_ptr<FrontEnd>> bind(const std::string& host, int port,
                                                const std::string& tls_cert,
                                                const std::string& tls_key, FrontEndOptions options,
                                                Router& router, HeadHook hook,
                                                std::function<void(const std::string&)> log);
  ~FrontEnd();

  int port() const;
  /// Serves until stop(); returns once every request in progress has been answered.
  void run();
  /// From any thread: stop accepting and reading; requests in progress finish.
  void stop();

  struct Impl;

 private:
  FrontEnd() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wfrun::serve
