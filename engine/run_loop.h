#pragma once
// The run loop: one poll() over the cancel fd and the executors' descriptors and timers. It
// decides which jobs run (scheduler.h), prepares their attempts (attempt.h), hands them to
// the job's executor (executors.h), and turns each end into the job's state: outputs, retries,
// the jobs that depend on it. Every change goes to the run store and run.json.

#include "engine/run_setup.h"

namespace wfrun::engine {

/// Runs every job of `run` (whose id, number and dir are set) to the end.
void execute(const RunSetup& setup, RunResult& run);

}  // namespace wfrun::engine
