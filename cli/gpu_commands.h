#pragma once
// `wfrun gpus` and `wfrun metrics`: the machine's GPUs and what jobs did with them.

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Registers the subcommands; `state_dir` is the global --state-dir flag's value.
void add_gpu_commands(CLI::App& app, std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
