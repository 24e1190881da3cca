#pragma once
// `wfrun ui`: the dashboard for this machine's runs (http/dashboard/).

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Adds `ui [--listen HOST:PORT] [--allow-host NAME]...`.
void add_ui_command(CLI::App& app, const std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
