#include "engine/executors.h"

#include "engine/local_executor.h"

namespace wfrun::engine {

Executors make_executors(const RunSetup& setup, RunMetrics* metrics) {
  Executors e;
  e.all.push_back(make_local_executor(setup, metrics));
  e.of_job.assign(setup.wf->jobs.size(), e.all.front().get());
  return e;
}

}  // namespace wfrun::engine
