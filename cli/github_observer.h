#pragma once
// The workflow-level `github:` block on the command line: a RunObserver that reports the run to
// GitHub when it starts and when it ends, and passes everything on to the terminal printer.

#include <memory>

#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::cli {

/// An observer for `wf`'s `github:` block wrapping `inner`, or null when the workflow has none.
/// Reporting problems are printed as warnings on stderr; they never fail the run. Reads
/// $WFRUN_GITHUB_API_URL (default https://api.github.com) and $WFRUN_CA_FILE.
std::unique_ptr<engine::RunObserver> make_github_observer(const workflows::Workflow& wf,
                                                          const engine::RunOptions& opts,
                                                          engine::RunObserver& inner);

}  // namespace wfrun::cli
