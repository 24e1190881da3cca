#pragma once
// What `wfrun run` and `wfrun serve-run` share: the SIGINT/SIGTERM self-pipe, the options every
// run takes from wfrun's environment, and running a checked workflow with the terminal printer
// and the workflow's `github:` reporting.

#include <functional>
#include <string>

#include "base/error.h"
#include "cli/github_observer.h"
#include "engine/resume.h"
#include "engine/run.h"
#include "workflows/workflow.h"

namespace wfrun::cli {

/// Installs the SIGINT/SIGTERM handlers (once) and returns the read end of their self-pipe,
/// for RunOptions::cancel_fd: one byte arrives per signal. The engine cancels the run at the
/// first and kills its jobs at once at the second; a second signal while no run's loop is
/// listening (before or after the run) ends wfrun at once (exit 130). -1 if no pipe.
int install_signal_pipe();
/// Whether SIGINT or SIGTERM arrived since install_signal_pipe().
bool interrupted();

/// RunOptions with the state dir and what comes from wfrun's environment: WFRUN_SECRET_*
/// secrets and WFRUN_CONTAINER_RUNTIME.
engine::RunOptions base_run_options(const std::string& state_dir);

/// Hands `plan` to the run about to start (engine::resume_with), after cancelling the Slurm
/// attempts of that run it will not follow (slurm::cancel_left_behind); `say` gets one line
/// per such attempt.
void resume_into(engine::ResumePlan plan, engine::RunOptions& opts,
                 const std::function<void(const std::string&)>& say);

/// Checks that every `secret:NAME` is known, then runs `wf`, printing to `printer` and
/// reporting to GitHub when the workflow's `github:` block asks. The run is cancelled when
/// opts.cancel_fd becomes readable.
Result<engine::RunResult> run_checked(const workflows::Workflow& wf, const engine::RunOptions& opts,
                                      engine::RunObserver& printer,
                                      const GithubReportSettings& github = {});

}  // namespace wfrun::cli
