#pragma once
// `wfrun nb2py` and `wfrun nbrun`: notebooks as plain Python, no Jupyter needed.

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers `nb2py` and `nbrun`; their callbacks set `exit_code` (0 ok, 1 the notebook
/// failed, 2 bad input).
void add_notebook_commands(CLI::App& app, int& exit_code);

}  // namespace wfrun::cli
