#pragma once
// `wfrun serve`: the webhook server (http/serve/).

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

/// Adds `serve [--config FILE]`.
void add_serve_command(CLI::App& app, const std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
