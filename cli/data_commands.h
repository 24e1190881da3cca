#pragma once
// `wfrun datasets` and `wfrun models`: the local data store from the command line.

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers the subcommands; `state_dir` is the global --state-dir flag's value.
void add_data_commands(CLI::App& app, std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
