#include "engine/notebook/notebook_action.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "base/self_exe.h"
#include "engine/paths.h"

namespace wfrun::notebook {
namespace {

// `cell-timeout`: seconds as a number, or "90s" / "10m" / "1h".
std::optional<double> parse_seconds(const workflows::Json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s.empty()) return std::nullopt;
  double mult = 1;
  char unit = s.back();
  if (unit == 's' || unit == 'm' || unit == 'h') {
    mult = unit == 's' ? 1 : unit == 'm' ? 60 : 3600;
    s.pop_back();
  }
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || d < 0) return std::nullopt;
  return d * mult;
}

Location field(const workflows::Job& job, const std::string& key) {
  Location loc = job.where;
  loc.field = "jobs." + job.name + ".with." + key;
  return loc;
}

}  // namespace

Status NotebookAction::check(const workflows::Job& job) const {
  const auto& w = job.with;
  if (!w.contains("notebook") || !w["notebook"].is_string())
    return Error(field(job, "notebook"), "notebook@v1 needs `notebook:` (the .ipynb path)");
  if (w.contains("parameters") && !w["parameters"].is_object())
    return Error(field(job, "parameters"), "`parameters` must be a mapping");
  if (w.contains("cell-timeout") && !parse_seconds(w["cell-timeout"]))
    return Error(field(job, "cell-timeout"), "`cell-timeout` must be seconds, e.g. 600 or 10m");
  return {};
}

std::string NotebookAction::image(const workflows::Job& job) const {
  auto it = job.with.find("image");
  return it != job.with.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<engine::ActionCommand> NotebookAction::command(const engine::ActionContext& ctx) const {
  std::string notebook = ctx.arg("notebook");
  if (notebook.empty()) return Error(field(ctx.job, "notebook"), "notebook@v1 needs `notebook:`");
  std::string output = ctx.arg("output");
  std::string cwd = ctx.arg("cwd");
  engine::ActionCommand cmd;
  cmd.image = ctx.arg("image");
  cmd.network = ctx.arg("network");
  if (!cmd.image.empty()) {
    // `wfrun nbrun` runs on the host and the runner in the image: the notebook and the
    // executed notebook are read and written outside (host paths), the working folder is
    // inside. A notebook outside /inputs and /outputs has its folder mounted by nbrun.
    cmd.starts_container = true;
    const bool inside =
        notebook.rfind("/inputs/", 0) == 0 || notebook.rfind("/outputs/", 0) == 0;
    if (cwd.empty() && inside) cwd = std::filesystem::path(notebook).parent_path().string();
    notebook = engine::rewrite_paths(notebook, ctx.dirs.inputs, ctx.dirs.outputs);
    output = engine::rewrite_paths(output, ctx.dirs.inputs, ctx.dirs.outputs);
  }
  if (output.empty()) {
    // Gradient's /outputs/<job>/<name>.ipynb, as the host folder behind /outputs.
    std::string stem = std::filesystem::path(notebook).stem().string();
    output = ctx.dirs.outputs + "/" + ctx.job.name + "/" + stem + ".ipynb";
  }
  cmd.argv = {self_exe(), "nbrun", notebook, "-o", output};
  if (ctx.with.contains("parameters") && ctx.with["parameters"].is_object() &&
      !ctx.with["parameters"].empty()) {
    // YAML is a superset of JSON: the parameters keep their types. They go by environment,
    // not by a file in the job's folder, since they may hold secrets.
    cmd.env["WFRUN_NB_PARAMETERS"] =
        ctx.with["parameters"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    cmd.argv.insert(cmd.argv.end(), {"--parameters-env", "WFRUN_NB_PARAMETERS"});
  }
  if (!ctx.arg("python").empty()) cmd.argv.insert(cmd.argv.end(), {"--python", ctx.arg("python")});
  if (!cwd.empty()) cmd.argv.insert(cmd.argv.end(), {"--cwd", cwd});
  if (ctx.with.contains("cell-timeout")) {
    if (auto s = parse_seconds(ctx.with["cell-timeout"])) {
      cmd.argv.insert(cmd.argv.end(), {"--cell-timeout", std::to_string(*s)});
    }
  }
  if (ctx.with.contains("allow-errors")) {
    const auto& a = ctx.with["allow-errors"];
    if (a.is_boolean() ? a.get<bool>() : (a.is_string() && a.get<std::string>() == "true")) {
      cmd.argv.push_back("--allow-errors");
    }
  }
  return cmd;
}

void register_notebook_action(engine::ActionRegistry& registry) {
  registry.add("notebook@v1", std::make_shared<NotebookAction>());
}

}  // namespace wfrun::notebook
