#pragma once
// `wfrun runs`, `show` and `logs`: reading the run store.

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers the subcommands; `state_dir` is the global --state-dir flag's value.
void add_store_commands(CLI::App& app, std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
