#include "http/serve/front_end_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wfrun::serve::internal {

std::string address_of(const sockaddr_storage& sa, int* port) {
  char host[INET6_ADDRSTRLEN] = "";
  *port = 0;
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    *port = ntohs(in->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    *port = ntohs(in6->sin6_port);
  }
  return host;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool ConnStream::is_writable() const {
  pollfd p{c_.fd.get(), static_cast<short>(POLLOUT | POLLRDHUP), 0};
  return ::poll(&p, 1, timeout_ms_) > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL | POLLRDHUP));
}

ssize_t ConnStream::read(char* ptr, size_t size) {
  const std::string& h = c_.head_bytes;
  size_t n = 0;
  while (n < size && pos_ < h.size() + c_.body.size()) {
    const std::string& from = pos_ < h.size() ? h : c_.body;
    const size_t at = pos_ < h.size() ? pos_ : pos_ - h.size();
    const size_t k = std::min(size - n, from.size() - at);
    std::memcpy(ptr + n, from.data() + at, k);
    n += k;
    pos_ += k;
  }
  return static_cast<ssize_t>(n);
}

ssize_t ConnStream::write(const char* ptr, size_t size) {
  size_t done = 0;
  while (done < size) {
    int wait_for = POLLOUT;
    if (c_.ssl) {
      ERR_clear_error();
      const int chunk = static_cast<int>(std::min<size_t>(size - done, 1u << 30));
      const int r = SSL_write(c_.ssl.get(), ptr + done, chunk);
      if (r > 0) {
        done += static_cast<size_t>(r);
        continue;
      }
      const int e = SSL_get_error(c_.ssl.get(), r);
      if (e == SSL_ERROR_WANT_READ) wait_for = POLLIN;
      else if (e != SSL_ERROR_WANT_WRITE) return fail();
    } else {
      const ssize_t r = ::send(c_.fd.get(), ptr + done, size - done, MSG_NOSIGNAL);
      if (r > 0) {
        done += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return fail();
    }
    pollfd p{c_.fd.get(), static_cast<short>(wait_for), 0};
    if (::poll(&p, 1, timeout_ms_) <= 0) return fail();
  }
  return static_cast<ssize_t>(size);
}

void ConnStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  ip.clear();
  port = 0;
  if (::getsockname(c_.fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0) ip = address_of(sa, &port);
}

}  // namespace wfrun::serve::internal
