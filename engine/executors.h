#pragma once
// Which executor runs each job of a run.

#include <memory>
#include <vector>

#include "base/error.h"
#include "engine/executor.h"
#include "engine/run_setup.h"

namespace wfrun::engine {

class RunMetrics;

/// The executors of one run and the one each job uses.
struct Executors {
  std::vector<std::unique_ptr<Executor>> all;
  std::vector<Executor*> of_job;  // per job, in workflow order
};

/// Today every job runs on the local executor.
Executors make_executors(const RunSetup& setup, RunMetrics* metrics);

}  // namespace wfrun::engine
