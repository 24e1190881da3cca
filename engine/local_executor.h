#pragma once
// The local executor: each attempt is a child process of wfrun on this machine (on the host,
// or a container runtime client), in its own process group. Its output pipe and exit pidfd
// join the run loop's poll(); timeouts and kill grace periods are its timers. GPUs come from
// this machine's inventory (GpuQueue), and it samples the metrics of what it runs.

#include <memory>

#include "engine/executor.h"
#include "engine/run_setup.h"

namespace wfrun::engine {

class RunMetrics;

/// At most opts.max_parallel attempts at once (default: the number of cores). `metrics` (may
/// be null) is sampled while attempts run; it must outlive the executor.
std::unique_ptr<Executor> make_local_executor(const RunSetup& setup, RunMetrics* metrics);

}  // namespace wfrun::engine
