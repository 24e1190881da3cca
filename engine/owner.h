#pragma once
// Which process owns a run, recorded so that a later wfrun can tell whether it is still alive:
// a pid alone can be reused, so the owner is its pid plus the time it started (from /proc,
// in clock ticks since boot), the boot it started in and the host.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace wfrun::engine {

/// A process, told apart from any later process that gets the same pid.
struct ProcessOwner {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22
  std::string boot_id;            // /proc/sys/kernel/random/boot_id
  std::string host;               // gethostname()
};

/// This process.
ProcessOwner current_owner();

enum class OwnerState {
  kAlive,    // the same process is still running
  kGone,     // it has exited (its pid is free or belongs to a newer process, or it was before a reboot)
  kUnknown,  // another host's process, or no owner recorded: nothing can be said
};
OwnerState owner_state(const ProcessOwner& owner);

/// /proc/PID/stat's start time of `pid`; 0 when it does not exist (or /proc is unreadable).
std::uint64_t process_start_ticks(pid_t pid);

}  // namespace wfrun::engine
