#include "cli/serve_workflows.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/options.h"
#include "git/clone_cache.h"
#include "workflows/parser.h"

namespace wfrun::cli {

namespace {

using nlohmann::json;

std::string env_or(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// {"ref", "sha", "workflows": [{"path", "name", "inputs": [...]} | {"path", "error"}]}, or
/// {"error"} (exit 1) when the repository cannot be read.
int list_workflows(const std::string& state, const std::string& url, const std::string& ref) {
  git::RemoteOptions opts;
  if (const std::string t = env_or("WFRUN_GIT_TOKEN"); !t.empty()) opts.creds = git::Credentials::from_token(t);
  opts.ca_file = env_or("WFRUN_CA_FILE");
  auto files = git::files_at_ref(state + "/git-cache", url, ref, {".wfrun/workflows", ".gradient/workflows"},
                                 {".yaml", ".yml"}, opts);
  if (!files) {
    std::printf("%s\n", json{{"error", files.error().str()}}.dump().c_str());
    return 1;
  }
  json list = json::array();
  for (const auto& [path, text] : files->files) {
    json w = {{"path", path}, {"name", std::filesystem::path(path).stem().string()}};
    auto wf = workflows::parse_workflow(text, path);
    if (!wf) {
      w["error"] = wf.error().str();
      w["inputs"] = json::array();
    } else {
      json inputs = json::array();
      for (const auto& in : wf->inputs) {
        const auto& def = in.value ? in.value : in.ref;
        inputs.push_back({{"name", in.name},
                          {"type", workflows::io_type_name(in.type)},
                          {"default", def ? json(*def) : json(nullptr)},
                          {"required", !def}});
      }
      w["inputs"] = std::move(inputs);
    }
    list.push_back(std::move(w));
  }
  json out = {{"ref", files->ref}, {"sha", files->sha}, {"workflows", std::move(list)}};
  std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace

void add_serve_workflows_command(CLI::App& app, const std::string& state_dir, int& exit_code) {
  static std::string url, ref;
  auto* sc = app.add_subcommand("serve-workflows",
                                "print a repository's workflows and their inputs as JSON (for wfrun serve)");
  sc->group("");  // internal: not in --help
  sc->add_option("--url", url, "the repository's clone URL (the token comes from $WFRUN_GIT_TOKEN)")->required();
  sc->add_option("--ref", ref, "a branch or ref (default: the repository's default branch)");
  sc->callback([&] {
    std::error_code ec;
    exit_code = list_workflows(std::filesystem::absolute(resolve_state_dir(state_dir), ec).string(), url, ref);
  });
}

}  // namespace wfrun::cli
