#include "cli/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/fd.h"

namespace wfrun::cli {

SystemdNotifier SystemdNotifier::from_environment() {
  SystemdNotifier n;
  if (const char* s = std::getenv("NOTIFY_SOCKET")) n.address_ = s;
  ::unsetenv("NOTIFY_SOCKET");
  return n;
}

Status SystemdNotifier::notify(const std::string& state) const {
  if (address_.empty()) return {};
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if ((address_[0] != '/' && address_[0] != '@') || address_.size() >= sizeof sa.sun_path)
    return Error("NOTIFY_SOCKET=" + address_ + ": not a unix socket path or @abstract name");
  std::memcpy(sa.sun_path, address_.data(), address_.size());
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';  // the abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                         (address_[0] == '/' ? 1 : 0));
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("NOTIFY_SOCKET: socket", errno);
  ssize_t n;
  do {
    n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&sa), len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("NOTIFY_SOCKET=" + address_ + ": sending to systemd", errno);
  return {};
}

std::string SystemdNotifier::reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  long long usec = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace wfrun::cli
