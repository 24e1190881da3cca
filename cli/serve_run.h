#pragma once
// `wfrun serve-run --state-dir STATE --dir RUNDIR`: one webhook-triggered (or manual) run, as a
// child of `wfrun serve`. Reads RUNDIR/request.json and RUNDIR/payload.json, checks out the
// commit into RUNDIR/checkout (through STATE's clone cache), runs the workflows whose `on:`
// matches the event, and writes RUNDIR/result.json. See docs/serve.md, "How a run runs".

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers `serve-run` (hidden: `wfrun serve` starts it); its callback sets `exit_code`:
/// 0 success or skipped, 1 a workflow failed, 2 error, 130 cancelled (SIGTERM/SIGINT).
void add_serve_run_command(CLI::App& app, const std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
