#pragma once
// The processes behind the git actions: `wfrun git-checkout` and `wfrun git-commit` (hidden;
// a job runs them).

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers the hidden `git-checkout` and `git-commit` subcommands; its callback sets `exit_code`
/// (0 ok, 1 the git operation failed). The token comes from $WFRUN_GIT_TOKEN, never from the
/// arguments.
void add_git_commands(CLI::App& app, int& exit_code);

}  // namespace wfrun::cli
