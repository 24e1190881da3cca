#pragma once
// `wfrun serve-workflows`: a repository's workflow files at its default branch, with their
// inputs, as JSON. `wfrun serve` runs it for the dashboard's Workflows page (the server process
// does no git work itself).

#include <string>

namespace CLI {
class App;
}

namespace wfrun::cli {

void add_serve_workflows_command(CLI::App& app, const std::string& state_dir, int& exit_code);

}  // namespace wfrun::cli
