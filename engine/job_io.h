#pragma once
// A job's inputs resolved to host files and folders before it starts, and its outputs
// collected after it succeeded.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/datasets.h"
#include "engine/paths.h"
#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class RunStore;


/// Where each of `job`'s inputs comes from: workflow inputs (--input or defaults), outputs of
/// jobs it needs (`jobs` gives their results), inline values; datasets looked up in `store`.
Result<std::vector<ResolvedInput>> resolve_inputs(
    const workflows::Workflow& wf, const workflows::Job& job, const RunOptions& opts,
    RunStore* store, const std::function<const JobResult*(const std::string&)>& jobs);

/// After `job` succeeded: string outputs read from their files (trailing newlines trimmed),
/// dataset outputs moved into the data store as a new version (value `NAME:VERSION`; a ref
/// with a version makes exactly that one, and fails when it exists) and made read-only, volume
/// outputs left in place (value: the host folder). An Error fails the job.
Result<std::map<std::string, std::string>> collect_outputs(const workflows::Job& job,
                                                           const JobDirs& dirs, RunStore* store,
                                                           std::int64_t run_id);

/// Longest string output kept.
inline constexpr size_t kMaxStringOutput = 1 << 20;

}  // namespace wfrun::engine
