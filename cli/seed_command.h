#pragma once
// `wfrun seed URL [DIR]`: a notebook workspace from a GitHub (or any git) URL.

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers `seed`; its callback sets `exit_code` (0 ok, 1 the remote or the notebook failed,
/// 2 a bad URL or DIR).
void add_seed_command(CLI::App& app, int& exit_code);

}  // namespace wfrun::cli
