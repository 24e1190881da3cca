#pragma once
// RUN/run.json: the run's record in Gradient's shape, rewritten atomically on each change.

#include <string>

#include "base/strings.h"
#include "engine/run_types.h"

namespace wfrun::engine {

/// {id, number, workflow, phase, started, finished, jobs: [{name, phase, started, finished,
/// exitCode, attempts, outputs, message}]}; times are UTC ISO 8601 (null when not yet),
/// outputs and messages redacted.
std::string run_json_text(const RunResult& run, const std::string& workflow,
                          const Redactor& redactor);
Status write_run_json(const RunResult& run, const std::string& workflow, const Redactor& redactor);

/// 1732638000.25 -> "2024-11-26T16:20:00.250Z".
std::string iso_time(double unix_seconds);

}  // namespace wfrun::engine
