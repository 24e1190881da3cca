#pragma once
// The processes behind the git actions: `wfrun git-checkout` (hidden; a job runs it).

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers the hidden `git-checkout` subcommand; its callback sets `exit_code` (0 ok, 1 the
/// git operation failed). The token comes from $WFRUN_GIT_TOKEN, never from the arguments.
void add_git_commands(CLI::App& app, int& exit_code);

}  // namespace wfrun::cli
