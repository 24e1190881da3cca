#pragma once
// systemd's readiness protocol (sd_notify(3)) for `wfrun serve` under `Type=notify`: a datagram
// of NAME=VALUE lines to the unix socket named by $NOTIFY_SOCKET. A few lines of code instead
// of a libsystemd dependency (the protocol is a stable, documented interface).

#include <string>

#include "base/error.h"

namespace wfrun::cli {

/// Where to tell systemd about state changes; does nothing when systemd did not start us.
class SystemdNotifier {
 public:
  /// Reads $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace) and unsets it, so the
  /// runs' processes cannot speak for the service.
  static SystemdNotifier from_environment();

  bool enabled() const { return !address_.empty(); }
  /// Sends `state`, e.g. "READY=1\nSTATUS=listening on port 8080". Without $NOTIFY_SOCKET: ok.
  Status notify(const std::string& state) const;

  /// "RELOADING=1\nMONOTONIC_USEC=N" (systemd 253 and newer want the time stamp).
  static std::string reloading();

 private:
  std::string address_;
};

}  // namespace wfrun::cli
