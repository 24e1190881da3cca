#include "engine/notebook/notebook_action.h"

#include <cmath>
#include <cstdio>
#include <filesystem>


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

// The running binary, so a job's `wfrun nbrun` is the same version as the engine.
std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "wfrun" : p.string();
}

Result<engine::ActionCommand> NotebookAction::command(const engine::ActionContext& ctx) const {
  std::string notebook = ctx.arg("notebook");
  if (notebook.empty()) return Error(field(ctx.job, "notebook"), "notebook@v1 needs `notebook:`");
  std::string output = ctx.arg("output");
  if (output.empty()) {
    // Gradient's /outputs/<job>/<name>.ipynb, as the host folder behind /outputs.
    std::string stem = std::filesystem::path(notebook).stem().string();
    output = ctx.dirs.outputs + "/" + ctx.job.name + "/" + stem + ".ipynb";
  }
  engine::ActionCommand cmd;
  cmd.argv = {self_exe(), "nbrun", notebook, "-o", output};
  if (ctx.with.contains("parameters") && ctx.with["parameters"].is_object() &&
      !ctx.with["parameters"].empty()) {
    // YAML is a superset of JSON: the parameters keep their types through the file.
    std::error_code ec;
    std::filesystem::create_directories(ctx.dirs.dir, ec);
    std::string path = ctx.dirs.dir + "/parameters.json";
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return Error("cannot write " + path);
    std::string text = ctx.with["parameters"].dump(2);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    cmd.argv.insert(cmd.argv.end(), {"-f", path});
  }
  if (!ctx.arg("python").empty()) cmd.argv.insert(cmd.argv.end(), {"--python", ctx.arg("python")});
  if (!ctx.arg("cwd").empty()) cmd.argv.insert(cmd.argv.end(), {"--cwd", ctx.arg("cwd")});
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
