#pragma once
// Which binary wfrun starts for its own child processes (`wfrun nbrun`, `wfrun git-checkout`,
// `wfrun serve-run`), so they are the same version as the parent.

#include <string>

namespace wfrun {

/// The running wfrun: /proc/self/exe, except when the relocatable bundle's launcher started us
/// through its own dynamic loader (scripts/bundle). Then /proc/self/exe is that loader, and
/// $WFRUN_LAUNCHER, which the launcher sets, names the launcher. "wfrun" (found on PATH) when
/// neither is known.
std::string self_exe();

}  // namespace wfrun
