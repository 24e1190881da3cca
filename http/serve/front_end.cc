#include "http/serve/front_end.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/fd.h"
#include "http/serve/front_end_conn.h"

namespace wfrun::serve {

namespace {

using internal::address_of;
using internal::Conn;
using internal::ConnStream;
using internal::openssl_error;
using internal::State;

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

constexpr ssize_t kAgain = -2;  // read_some: nothing to read now
constexpr size_t kDrainMax = 1u << 20;

}  // namespace

struct FrontEnd::Impl {
  FrontEndOptions opt;
  Router* router = nullptr;
  HeadHook hook;
  std::function<void(const std::string&)> log;
  UniqueFd listen_fd, epoll_fd, wake_fd;
  Handle<SSL_CTX, SSL_CTX_free> tls;
  int port = 0;
  std::atomic<bool> stopping{false};

  // The loop thread's own.
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, int> per_address;
  int busy = 0;
  bool listening = true;
  double accept_paused_until = 0;
  double last_activity = 0;
  bool trim_due = false;
  std::unique_ptr<httplib::ThreadPool> pool;

  // Handed back by workers and stream threads.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int, bool>> done;  // fd, keep the connection
  int streams = 0;

  void loop();
  void accept_all(double now);
  void on_io(Conn& c, double now);
  bool advance(Conn& c, double now);
  bool refuse(Conn& c, int status, const std::string& json_body, double now);
  void dispatch(Conn& c, double now);
  void serve_one(Conn* c);
  void take_back(double now);
  void expire(double now);
  void close_conn(Conn& c);
  void watch(Conn& c, int op);
  ssize_t read_some(Conn& c, char* buf, size_t n);
  void send_now(Conn& c, const std::string& bytes);
};

void FrontEnd::Impl::watch(Conn& c, int op) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (c.want_write ? static_cast<std::uint32_t>(EPOLLOUT) : 0u);
  ev.data.fd = c.fd.get();
  (void)::epoll_ctl(epoll_fd.get(), op, c.fd.get(), &ev);
}

ssize_t FrontEnd::Impl::read_some(Conn& c, char* buf, size_t n) {
  if (c.ssl) {
    ERR_clear_error();
    const int r = SSL_read(c.ssl.get(), buf, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(c.ssl.get(), r);
    const bool want_write = e == SSL_ERROR_WANT_WRITE;
    if (e == SSL_ERROR_WANT_READ || want_write) {
      if (want_write != c.want_write) {
        c.want_write = want_write;
        watch(c, EPOLL_CTL_MOD);
      }
      return kAgain;
    }
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  while (true) {
    const ssize_t r = ::recv(c.fd.get(), buf, n, 0);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? kAgain : -1;
  }
}

void FrontEnd::Impl::send_now(Conn& c, const std::string& bytes) {
  // Best effort, never blocking the loop: these answers are small.
  if (c.ssl) {
    ERR_clear_error();
    (void)SSL_write(c.ssl.get(), bytes.data(), static_cast<int>(bytes.size()));
  } else {
    (void)::send(c.fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
}

void FrontEnd::Impl::close_conn(Conn& c) {
  (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  auto it = per_address.find(c.peer);
  if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
  conns.erase(c.fd.get());  // closes it
}

bool FrontEnd::Impl::refuse(Conn& c, int status, const std::string& json_body, double now) {
  send_now(c, plain_answer(status, json_body));
  if (c.ssl) {
    close_conn(c);
    return false;
  }
  // Half-close and read on for a moment: closing with unread input would reset the connection,
  // and the client could lose the answer before reading it.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.state = State::kDraining;
  c.deadline = now + 2;
  c.in.clear();
  c.in.shrink_to_fit();
  c.body = std::string();
  c.decision = HeadDecision();
  return false;
}

bool FrontEnd::Impl::advance(Conn& c, double now) {
  if (c.state == State::kWaiting) {
    if (c.in.empty()) return true;
    if (!c.started) {
      c.started = true;
      c.deadline = now + opt.request_deadline;
    }
    const size_t from = c.scanned >= 3 ? c.scanned - 3 : 0;
    const size_t end = c.in.find("\r\n\r\n", from);
    if (end == std::string::npos || end + 4 > opt.max_head) {
      c.scanned = c.in.size();
      if (c.in.size() > opt.max_head || (end != std::string::npos && end + 4 > opt.max_head))
        return refuse(c, 431, error_json("the request's head is larger than " +
                                         std::to_string(opt.max_head >> 10) + " KB"), now);
      return true;
    }
    std::string why;
    c.head.peer = c.peer;
    if (int status = parse_request_head(std::string_view(c.in).substr(0, end + 4), c.head,
                                        c.head_bytes, c.expect_continue, &why))
      return refuse(c, status, error_json(why), now);
    c.in.erase(0, end + 4);
    c.scanned = 0;
    try {
      c.decision = hook(c.head);
    } catch (const std::exception& e) {
      log("front end: " + std::string(e.what()));
      return refuse(c, 500, error_json("internal error"), now);
    }
    if (c.decision.status) return refuse(c, c.decision.status, c.decision.body, now);
    if (c.head.content_length > c.decision.max_body)
      return refuse(c, 413, error_json("the body is larger than " +
                                       std::to_string(c.decision.max_body >> 20) + " MB"), now);
    c.state = State::kBody;
    c.body.clear();
    c.body.reserve(std::min<std::uint64_t>(c.head.content_length, 64u << 10));
    if (c.expect_continue && c.in.size() < c.head.content_length)
      send_now(c, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  if (c.state == State::kBody) {
    const std::uint64_t want = c.head.content_length - c.body.size();
    const size_t take = static_cast<size_t>(std::min<std::uint64_t>(want, c.in.size()));
    if (take > 0) {
      if (c.body.size() + take > c.body.capacity())
        c.body.reserve(static_cast<size_t>(std::min<std::uint64_t>(
            c.head.content_length, std::max(c.body.capacity() * 2, c.body.size() + take))));
      c.body.append(c.in, 0, take);
      if (c.decision.check) c.decision.check->update(c.in.data(), take);
      c.in.erase(0, take);
    }
    if (c.body.size() < c.head.content_length) return true;
    if (c.decision.check) {
      std::string answer;
      if (int status = c.decision.check->finish(&answer)) return refuse(c, status, answer, now);
    }
    dispatch(c, now);
    return false;
  }
  return true;
}

void FrontEnd::Impl::dispatch(Conn& c, double now) {
  if (c.decision.streams) {
    std::lock_guard lock(mu);
    if (streams >= opt.max_streams) {
      refuse(c, 503, error_json("too many streams are open; try again later"), now);
      return;
    }
    ++streams;
  }
  (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  c.state = State::kBusy;
  ++busy;
  trim_due = true;
  Conn* p = &c;
  if (c.decision.streams) {
    std::thread([this, p] {
      serve_one(p);
      std::lock_guard lock(mu);  // notified under the lock: run() may end as soon as it sees 0
      --streams;
      cv.notify_all();
    }).detach();
  } else {
    pool->enqueue([this, p] { serve_one(p); });
  }
}

void FrontEnd::Impl::serve_one(Conn* c) {
  bool keep = false;
  try {
    ConnStream s(*c, static_cast<int>(opt.write_timeout * 1000));
    bool closed = false;
    const bool close = stopping.load() || c->served + 1 >= opt.keep_alive_max;
    const bool ok = router->serve(s, close, closed, nullptr);
    keep = ok && !closed && !close && !s.broken();
  } catch (const std::exception& e) {
    log("serving " + c->head.method + " " + c->head.path + ": internal error: " + e.what());
  } catch (...) {
    log("serving " + c->head.method + " " + c->head.path + ": internal error");
  }
  c->body = std::string();
  c->head_bytes = std::string();
  c->decision = HeadDecision();
  {
    std::lock_guard lock(mu);
    done.emplace_back(c->fd.get(), keep);
  }
  std::uint64_t one = 1;
  (void)!::write(wake_fd.get(), &one, sizeof one);
}

void FrontEnd::Impl::take_back(double now) {
  std::vector<std::pair<int, bool>> back;
  {
    std::lock_guard lock(mu);
    back.swap(done);
  }
  for (auto [fd, keep] : back) {
    auto it = conns.find(fd);
    if (it == conns.end()) continue;
    Conn& c = *it->second;
    --busy;
    if (!keep || stopping) {
      close_conn(c);
      continue;
    }
    c.state = State::kWaiting;
    c.started = false;
    c.scanned = 0;
    c.served += 1;
    c.deadline = now + opt.idle_timeout;
    watch(c, EPOLL_CTL_ADD);
    if (!advance(c, now)) continue;  // a pipelined request was already here
    on_io(c, now);                   // TLS may hold decrypted bytes the socket no longer shows
  }
}

void FrontEnd::Impl::on_io(Conn& c, double now) {
  char buf[16384];
  while (true) {
    const ssize_t n = read_some(c, buf, sizeof buf);
    if (n == kAgain) return;
    if (n <= 0) {
      close_conn(c);
      return;
    }
    last_activity = now;
    if (c.state == State::kDraining) {
      c.drained += static_cast<size_t>(n);
      if (c.drained > kDrainMax) {
        close_conn(c);
        return;
      }
      continue;
    }
    c.in.append(buf, static_cast<size_t>(n));
    if (!advance(c, now)) return;
  }
}

void FrontEnd::Impl::accept_all(double now) {
  while (true) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    const int fd = ::accept4(listen_fd.get(), reinterpret_cast<sockaddr*>(&sa), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment instead of spinning on the socket.
        log("front end: cannot accept a connection: " + std::string(std::strerror(errno)));
        (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, listen_fd.get(), nullptr);
        accept_paused_until = now + 0.1;
      }
      return;
    }
    auto c = std::make_unique<Conn>();
    c->fd.reset(fd);
    c->peer = address_of(sa, &c->peer_port);
    int& from_peer = per_address[c->peer];
    if (static_cast<int>(conns.size()) >= opt.max_connections || from_peer >= opt.max_per_address) {
      if (from_peer == 0) per_address.erase(c->peer);
      const std::string a = plain_answer(503, error_json("too many connections; try again later"));
      (void)::send(fd, a.data(), a.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    ++from_peer;
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls) {
      c->ssl.reset(SSL_new(tls.get()));
      if (!c->ssl || SSL_set_fd(c->ssl.get(), fd) != 1) {
        --from_peer;
        if (from_peer == 0) per_address.erase(c->peer);
        continue;
      }
      SSL_set_accept_state(c->ssl.get());
    }
    c->deadline = now + opt.request_deadline;  // to send its first request (and TLS handshake)
    Conn& ref = *c;
    conns.emplace(fd, std::move(c));
    watch(ref, EPOLL_CTL_ADD);
    last_activity = now;
  }
}

void FrontEnd::Impl::expire(double now) {
  std::vector<Conn*> late;
  for (auto& [fd, c] : conns)
    if (c->state != State::kBusy && c->deadline <= now) late.push_back(c.get());
  for (Conn* c : late) {
    if (c->state == State::kDraining || !c->started) {
      close_conn(*c);
    } else {
      refuse(*c, 408, error_json("the request did not arrive whole within " +
                                 std::to_string(static_cast<int>(opt.request_deadline)) + " s"),
             now);
    }
  }
}

void FrontEnd::Impl::loop() {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd.get();
  (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, listen_fd.get(), &ev);
  ev.data.fd = wake_fd.get();
  (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev);
  double next_scan = 0;
  epoll_event events[128];
  while (true) {
    double now = now_s();
    if (stopping && listening) {
      listening = false;
      (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, listen_fd.get(), nullptr);
      listen_fd.reset();
      std::vector<Conn*> idle;
      for (auto& [fd, c] : conns)
        if (c->state != State::kBusy) idle.push_back(c.get());
      for (Conn* c : idle) close_conn(*c);
    }
    if (stopping && busy == 0) break;
    if (listening && accept_paused_until > 0 && now >= accept_paused_until) {
      accept_paused_until = 0;
      ev.data.fd = listen_fd.get();
      (void)::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, listen_fd.get(), &ev);
    }
    const int n = ::epoll_wait(epoll_fd.get(), events, 128, conns.empty() && !trim_due ? 1000 : 100);
    now = now_s();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      try {
        if (fd == listen_fd.get() && listening) {
          accept_all(now);
        } else if (fd == wake_fd.get()) {
          std::uint64_t v;
          (void)!::read(wake_fd.get(), &v, sizeof v);
        } else {
          auto it = conns.find(fd);
          if (it != conns.end() && it->second->state != State::kBusy) on_io(*it->second, now);
        }
      } catch (const std::exception& e) {
        // One connection's trouble (out of memory for its body, say) ends that connection.
        log("front end: " + std::string(e.what()));
        auto it = conns.find(fd);
        if (it != conns.end() && it->second->state != State::kBusy) close_conn(*it->second);
      }
    }
    take_back(now);
    if (now >= next_scan) {
      expire(now);
      next_scan = now + 0.1;
    }
    // Idle after work: give freed memory back to the system (bodies of up to 25 MB come and go).
    if (trim_due && busy == 0 && now - last_activity > 1.0) {
      trim_due = false;
      ::malloc_trim(0);
    }
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return streams == 0; });
}

Result<std::unique_ptr<FrontEnd>> FrontEnd::bind(const std::string& host, int port,
                                                 const std::string& tls_cert,
                                                 const std::string& tls_key,
                                                 FrontEndOptions options, Router& router,
                                                 HeadHook hook,
                                                 std::function<void(const std::string&)> log) {
  std::unique_ptr<FrontEnd> fe(new FrontEnd);
  fe->impl_ = std::make_unique<Impl>();
  Impl& m = *fe->impl_;
  m.opt = options;
  m.router = &router;
  m.hook = std::move(hook);
  m.log = log ? std::move(log) : [](const std::string&) {};

  if (!tls_cert.empty()) {
    m.tls.reset(SSL_CTX_new(TLS_server_method()));
    if (!m.tls || SSL_CTX_set_min_proto_version(m.tls.get(), TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(m.tls.get(), tls_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(m.tls.get(), tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(m.tls.get()) != 1)
      return Error("cannot load the TLS certificate '" + tls_cert + "' or key '" + tls_key +
                   "': " + openssl_error());
    SSL_CTX_set_mode(m.tls.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Error("cannot listen on " + host + ":" + service + ": " + ::gai_strerror(rc));
  Handle<addrinfo, freeaddrinfo> addrs(res);
  int err = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    UniqueFd s(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!s) {
      err = errno;
      continue;
    }
    const int one = 1;
    (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(s.get(), a->ai_addr, a->ai_addrlen) == 0 && ::listen(s.get(), 1024) == 0) {
      m.listen_fd = std::move(s);
      break;
    }
    err = errno;
  }
  if (!m.listen_fd)
    return Error("cannot listen on " + host + ":" + service + ": " + std::strerror(err ? err : EINVAL));
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(m.listen_fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    (void)address_of(sa, &m.port);

  m.epoll_fd.reset(::epoll_create1(EPOLL_CLOEXEC));
  m.wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!m.epoll_fd || !m.wake_fd) return errno_error("starting the server's event loop", errno);

  // Each connection is a descriptor: take what the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  return fe;
}

FrontEnd::~FrontEnd() = default;

int FrontEnd::port() const { return impl_->port; }

void FrontEnd::run() {
  Impl& m = *impl_;
  m.pool = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(1, m.opt.workers)));
  if (!m.stopping) m.router->set_serving(true);
  try {
    m.loop();
  } catch (const std::exception& e) {
    // Nothing in the loop throws on a client's account; this is the last line (bad_alloc).
    m.log("front end: stopped: " + std::string(e.what()));
  }
  m.pool->shutdown();
  m.pool.reset();
}

void FrontEnd::stop() {
  Impl& m = *impl_;
  m.stopping = true;
  m.router->set_serving(false);  // streaming answers end at their next chunk
  std::uint64_t one = 1;
  (void)!::write(m.wake_fd.get(), &one, sizeof one);
}

}  // namespace wfrun::serve
