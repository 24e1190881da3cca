#pragma once
// Man pages and shell completions generated from the CLI11 option tables, so they cannot drift
// from `--help`: the build runs the hidden `wfrun __man DIR` and `wfrun __completion SHELL`.

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// roff for `man 1 wfrun` (`sub` null) or `man 1 wfrun-SUB`.
std::string man_page(const CLI::App& app, const CLI::App* sub);

/// The completion script for `shell` ("bash" or "zsh"); "" for another shell.
std::string completion_script(const CLI::App& app, const std::string& shell);

/// Adds the hidden `__man DIR` (writes wfrun.1 and wfrun-SUB.1 for every visible subcommand)
/// and `__completion bash|zsh` (prints the script).
void add_docs_commands(CLI::App& app, int& exit_code);

}  // namespace wfrun::cli
