#include "engine/owner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "engine/fs.h"

namespace wfrun::engine {

namespace {

struct ProcStat {
  char state = 0;  // R, S, D, Z (exited, not reaped yet), ...
  std::uint64_t start_ticks = 0;
};

ProcStat proc_stat(pid_t pid) {
  ProcStat out;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return out;
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so count the fields
  // after the last ')'. starttime is field 22 overall.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return out;
  out.state = (*stat)[close + 2];
  size_t pos = close + 1;
  for (int field = 3; field < 22; ++field) {
    pos = stat->find(' ', pos + 1);
    if (pos == std::string::npos) return out;
  }
  out.start_ticks = std::strtoull(stat->c_str() + pos + 1, nullptr, 10);
  return out;
}

std::string boot_id() {
  auto id = read_file("/proc/sys/kernel/random/boot_id", 256);
  if (!id) return "";
  while (!id->empty() && (id->back() == '\n' || id->back() == ' ')) id->pop_back();
  return *id;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) { return proc_stat(pid).start_ticks; }

ProcessOwner current_owner() {
  // Computed once: a process's identity does not change (a fork is a new process, but a
  // forked child never records itself as an owner).
  static const ProcessOwner self = [] {
    ProcessOwner o;
    o.pid = ::getpid();
    o.start_ticks = process_start_ticks(o.pid);
    o.boot_id = boot_id();
    o.host = host_name();
    return o;
  }();
  ProcessOwner o = self;
  if (o.pid != ::getpid()) {  // a forked child asking after all
    o.pid = ::getpid();
    o.start_ticks = process_start_ticks(o.pid);
  }
  return o;
}

OwnerState owner_state(const ProcessOwner& owner) {
  if (owner.pid <= 0) return OwnerState::kUnknown;
  const ProcessOwner self = current_owner();
  if (owner.host != self.host) return OwnerState::kUnknown;  // a state dir on a shared disk
  if (!owner.boot_id.empty() && !self.boot_id.empty() && owner.boot_id != self.boot_id)
    return OwnerState::kGone;  // the machine has rebooted since
  if (owner.pid == self.pid && (owner.start_ticks == 0 || owner.start_ticks == self.start_ticks))
    return OwnerState::kAlive;
  if (::kill(owner.pid, 0) != 0 && errno == ESRCH) return OwnerState::kGone;
  ProcStat now = proc_stat(owner.pid);
  if (now.start_ticks == 0) {
    // kill() saw it but /proc does not: it exited in between, or /proc is hidden from us.
    return ::kill(owner.pid, 0) != 0 && errno == ESRCH ? OwnerState::kGone : OwnerState::kAlive;
  }
  if (owner.start_ticks != 0 && now.start_ticks != owner.start_ticks) return OwnerState::kGone;
  // Dead but not yet reaped by its parent (killed, its shell not back yet): gone as well.
  if (now.state == 'Z' || now.state == 'X') return OwnerState::kGone;
  return OwnerState::kAlive;
}

}  // namespace wfrun::engine
