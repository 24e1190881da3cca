#pragma once
// cgroup v2 folders for a run's jobs. Nothing a job starts can leave its cgroup (a process
// group can be left with setsid), so killing the cgroup catches daemons and double forks.
// wfrun makes them where it may: as root, or in a subtree delegated to its user. Elsewhere
// (no cgroup2 mounted, no permission) there are none, and process groups are all there is.

#include <string>

#include "base/error.h"

namespace wfrun::engine {

/// The cgroup2 folder this process is in ("/sys/fs/cgroup/user.slice/..."), or "" where no
/// cgroup2 hierarchy is mounted.
std::string own_cgroup_dir();

/// Makes the folder `parent/name`; an error when it may not (read-only, not delegated).
Result<std::string> make_cgroup(const std::string& parent, const std::string& name);

/// Kills every process in the cgroup at `dir` and in the cgroups below it, waits up to
/// `timeout` seconds for them to be gone, then removes the folders. False when something is
/// left behind (a folder that could not be removed).
bool destroy_cgroup(const std::string& dir, double timeout);

// For the run's guard, a forked child of a possibly multi-threaded wfrun: system calls only,
// no allocation. `dirfd` is the cgroup's folder, opened O_DIRECTORY.

/// Sends SIGKILL to every process in the cgroup and below (cgroup.kill, or each pid of
/// cgroup.procs on kernels before 5.14).
void cgroup_kill_all(int dirfd);
/// Whether any process is left in the cgroup or below it (cgroup.events: "populated 1").
bool cgroup_populated(int dirfd);
/// Removes the folders below the cgroup, deepest first (each must be empty of processes).
void cgroup_remove_below(int dirfd);

}  // namespace wfrun::engine
