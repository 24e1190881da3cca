#pragma once
// notebook@v1: runs a notebook with plain Python inside a workflow job.

#include "engine/actions.h"

namespace wfrun::notebook {

/// `uses: notebook@v1` with `notebook` (required), `parameters`, `python`, `cwd`, `output`,
/// `cell-timeout`, `allow-errors`, `image`, `network`. The job's process is `wfrun nbrun ...`
/// (this very binary): it runs in the job's own process group like any other job, so timeouts,
/// cancellation, live logs and the /inputs and /outputs paths work exactly as for script@v1,
/// and the engine's single event loop is never blocked by a notebook.
class NotebookAction : public engine::Action {
 public:
  /// `image:` runs the notebook's Python in that image; `wfrun nbrun` stays on the host (it
  /// starts the container itself: ActionCommand::starts_container).
  std::string image(const workflows::Job& job) const override;
  Status check(const workflows::Job& job) const override;
  Result<engine::ActionCommand> command(const engine::ActionContext& ctx) const override;
};

/// Adds notebook@v1 to `registry` (call at start-up, e.g. on engine::default_actions()).
void register_notebook_action(engine::ActionRegistry& registry);

}  // namespace wfrun::notebook
