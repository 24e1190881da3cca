#pragma once
// The front end's connections (front_end.cc): one client connection's state, and the
// httplib::Stream a worker's httplib reads a request from and writes its answer to.

#include <httplib.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <string>

#include "base/fd.h"
#include "http/serve/front_end.h"

namespace wfrun::serve::internal {

enum class State {
  kWaiting,   // for (the rest of) a request's head
  kBody,      // for the rest of its body
  kBusy,      // a worker has it
  kDraining,  // answered and half-closed: reading what the client still sends, then closing
};

/// One client connection. Owned by the loop's map; while kBusy, a worker uses it alone.
struct Conn {
  UniqueFd fd;
  Handle<SSL, SSL_free> ssl;  // destroyed before fd closes
  std::string peer;
  int peer_port = 0;
  State state = State::kWaiting;
  double deadline = 0;
  bool started = false;   // a byte of the current request has arrived
  bool want_write = false;  // TLS needs the socket writable to go on reading
  bool expect_continue = false;
  size_t scanned = 0;     // bytes of `in` searched for the head's end
  size_t drained = 0;
  int served = 0;
  std::string in;  // read, not yet taken (the head so far; the start of a pipelined request)
  RequestHead head;
  std::string head_bytes;  // the head as httplib reads it
  HeadDecision decision;
  std::string body;
};

/// "HOST" of a socket address (IPv4 or IPv6); its port in `*port`.
std::string address_of(const sockaddr_storage& sa, int* port);
/// OpenSSL's last error, taken off its queue.
std::string openssl_error();

/// What a worker's httplib sees: the request's bytes from memory, answers to the socket.
class ConnStream : public httplib::Stream {
 public:
  ConnStream(Conn& c, int write_timeout_ms) : c_(c), timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return pos_ < c_.head_bytes.size() + c_.body.size(); }
  // Not writable once the client has closed its side too (POLLRDHUP): HTTP clients do not
  // half-close and wait for an answer, and a page that navigated away must free its stream
  // slot at once rather than at its next write.
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  /// All of it, waiting up to the write timeout each time the socket (or TLS) is not ready.
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  // httplib asks for the socket only to refuse descriptors past FD_SETSIZE (its select()); this
  // stream never selects, and the front end may hold more than 1,024 connections.
  socket_t socket() const override { return -1; }

  bool broken() const { return broken_; }

 private:
  ssize_t fail() {
    broken_ = true;
    return -1;
  }
  Conn& c_;
  int timeout_ms_;
  size_t pos_ = 0;
  bool broken_ = false;
};

}  // namespace wfrun::serve::internal
