#include "cli/notebook_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "engine/container.h"
#include "engine/notebook/notebook.h"
#include "engine/process.h"

extern char** environ;

namespace wfrun::cli {
namespace {

namespace nb = wfrun::notebook;

struct Nb2PyArgs {
  std::vector<std::string> notebooks;
  std::string output, output_dir;
  bool runtime_errors = false;
  bool no_support = false;
};

struct NbRunArgs {
  std::string notebook, output, params_file, params_env, cwd, python = "python3", container;
  std::vector<std::vector<std::string>> params;
  bool allow_errors = false;
  double cell_timeout = 0;
  bool quiet = false;
};

// One notebook to a script; "" on success, else the error to print.
std::string nb2py_one(const std::string& notebook, const std::string& output,
                      const nb::ConvertOptions& o) {
  auto book = nb::read_notebook(notebook);
  if (!book) return book.error().str();
  if (auto st = nb::check_python_kernel(*book); !st) return st.error().str();
  auto py = nb::nb_to_py(*book, o);
  if (!py) return py.error().str();
  if (output.empty() || output == "-") {
    std::fwrite(py->data(), 1, py->size(), stdout);
    return "";
  }
  FILE* f = std::fopen(output.c_str(), "wb");
  if (!f) return "cannot write " + output + ": " + std::strerror(errno);
  bool ok = std::fwrite(py->data(), 1, py->size(), f) == py->size();
  ok = std::fclose(f) == 0 && ok;
  return ok ? "" : "cannot write " + output + ": " + std::strerror(errno);
}

// `wfrun nb2py A.ipynb [B.ipynb ...] [-o FILE | -d DIR]`: each notebook on its own, an error
// for one does not stop the others; exit 2 when any failed.
int cmd_nb2py(const Nb2PyArgs& a) {
  nb::ConvertOptions o;
  o.unsupported = a.runtime_errors ? nb::UnsupportedMagic::kRuntimeError : nb::UnsupportedMagic::kFail;
  o.include_support = !a.no_support;
  if (a.notebooks.size() > 1 && a.output_dir.empty()) {
    std::fprintf(stderr, "wfrun: nb2py: %zu notebooks need -d DIR (the folder for their scripts)%s\n",
                 a.notebooks.size(), a.output.empty() ? "" : "; -o names a single script");
    return 2;
  }
  if (!a.output.empty() && !a.output_dir.empty()) {
    std::fprintf(stderr, "wfrun: nb2py: give -o FILE or -d DIR, not both\n");
    return 2;
  }
  if (!a.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.output_dir, ec);
    if (ec) {
      std::fprintf(stderr, "wfrun: cannot create %s: %s\n", a.output_dir.c_str(),
                   ec.message().c_str());
      return 2;
    }
  }
  size_t failed = 0;
  std::map<std::string, std::string> written;  // script -> the notebook it came from
  for (const auto& notebook : a.notebooks) {
    std::string output = a.output;
    if (!a.output_dir.empty()) {
      // As `jupyter nbconvert --to script --output-dir DIR`: DIR/NAME.py.
      output = (std::filesystem::path(a.output_dir) /
                (std::filesystem::path(notebook).stem().string() + ".py"))
                   .string();
      auto [it, fresh] = written.emplace(output, notebook);
      if (!fresh) {
        std::fprintf(stderr, "wfrun: %s: not converted: its script %s is %s's\n",
                     notebook.c_str(), output.c_str(), it->second.c_str());
        ++failed;
        continue;
      }
    }
    if (std::string err = nb2py_one(notebook, output, o); !err.empty()) {
      std::fprintf(stderr, "wfrun: %s\n", err.c_str());
      ++failed;
    }
  }
  if (failed > 0 && a.notebooks.size() > 1)
    std::fprintf(stderr, "wfrun: nb2py: %zu of %zu notebooks failed\n", failed,
                 a.notebooks.size());
  return failed > 0 ? 2 : 0;
}

int self_pipe[2] = {-1, -1};
void on_signal(int) {
  if (self_pipe[1] >= 0) (void)!::write(self_pipe[1], "x", 1);
}

// notebook@v1 with `image:` (engine::ActionCommand::starts_container): the runner runs in the
// container the engine described, with the runner's scratch folder mounted; without a working
// folder inside, the notebook's own folder is mounted at its host path and used.
nb::NbContainer container_for(const engine::ContainerSpec& spec, const std::string& notebook,
                              const std::string& cwd) {
  nb::NbContainer c;
  c.image = spec.run.image;
  std::string folder;
  if (cwd.empty() && spec.run.workdir.empty())
    folder = std::filesystem::absolute(notebook).parent_path().lexically_normal().string();
  c.argv = [spec, folder](const nb::NbContainer::Mounts& mounts,
                          const std::map<std::string, std::string>& env,
                          const std::string& workdir, const std::vector<std::string>& args) {
    engine::ContainerRun run = spec.run;
    run.mounts.insert(run.mounts.end(), mounts.begin(), mounts.end());
    if (!folder.empty()) run.mounts.emplace_back(folder, folder);
    for (const auto& [k, v] : env) run.env_values[k] = v;
    if (!workdir.empty()) run.workdir = workdir;
    if (run.workdir.empty()) run.workdir = folder;
    run.args = args;
    return engine::container_argv(spec.runtime, run);
  };
  c.kill = [spec] {
    engine::ProcessSpec kill;
    kill.argv = engine::container_kill_argv(spec.runtime, spec.run.name);
    for (char** e = environ; *e; ++e) kill.env.push_back(*e);
    (void)engine::run_command(kill);
  };
  return c;
}

int cmd_nbrun(const NbRunArgs& a) {
  nb::NbRunOptions o;
  o.notebook = a.notebook;
  if (!a.params_file.empty()) {
    auto p = nb::read_parameters_yaml(a.params_file);
    if (!p) {
      std::fprintf(stderr, "wfrun: %s\n", p.error().str().c_str());
      return 2;
    }
    o.params = *p;
  }
  if (!a.params_env.empty()) {
    // notebook@v1 hands its parameters over this way: they may hold secrets, which must not
    // sit in a file. The notebook's own process does not get the variable.
    const char* text = std::getenv(a.params_env.c_str());
    auto p = nlohmann::json::parse(text ? text : "", nullptr, false);
    if (!p.is_object()) {
      std::fprintf(stderr, "wfrun: --parameters-env %s: %s\n", a.params_env.c_str(),
                   text ? "not a JSON object" : "the variable is not set");
      return 2;
    }
    o.params.update(p);
    ::unsetenv(a.params_env.c_str());
  }
  for (const auto& kv : a.params) o.params[kv.at(0)] = nb::parse_parameter_value(kv.at(1));
  if (a.output.empty()) {
    std::filesystem::path in(a.notebook);
    o.output = (in.parent_path() / (in.stem().string() + ".executed.ipynb")).string();
  } else {
    o.output = a.output;
  }
  o.python = a.python;
  o.cwd = a.cwd;
  o.allow_errors = a.allow_errors;
  o.cell_timeout = std::chrono::milliseconds(static_cast<long long>(a.cell_timeout * 1000));
  bool quiet = a.quiet;
  o.on_log = [quiet](std::string_view line) {
    if (quiet) return;
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
  };
  if (!a.container.empty()) {
    auto spec = engine::read_container_spec(a.container);
    if (!spec) {
      std::fprintf(stderr, "wfrun: %s\n", spec.error().str().c_str());
      return 2;
    }
    o.container = container_for(*spec, a.notebook, a.cwd);
  }
  // Ctrl-C stops the notebook (its process group) rather than leaving it running.
  if (::pipe(self_pipe) == 0) {
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    o.cancel_fd = self_pipe[0];
  }
  auto r = nb::run_notebook(o);
  if (!r) {
    std::fprintf(stderr, "wfrun: %s\n", r.error().str().c_str());
    return 2;
  }
  if (!r->ok) {
    std::fprintf(stderr, "wfrun: %s\n", r->error.c_str());
    if (!r->output.empty()) std::fprintf(stderr, "wfrun: executed notebook: %s\n", r->output.c_str());
    return r->error.find(": cancelled") != std::string::npos ? 130 : 1;
  }
  if (!quiet) std::fprintf(stderr, "wfrun: executed notebook: %s\n", r->output.c_str());
  return 0;
}

}  // namespace

void add_notebook_commands(CLI::App& app, int& exit_code) {
  static Nb2PyArgs c;
  auto* conv = app.add_subcommand("nb2py", "convert notebooks to plain Python scripts (percent format)");
  conv->add_option("notebooks", c.notebooks, "the .ipynb files")->required();
  conv->add_option("-o,--output", c.output, "write the script here (default: stdout; one notebook)");
  conv->add_option("-d,--output-dir", c.output_dir,
                   "write each notebook's script to DIR/NAME.py (needed for several notebooks)");
  conv->add_flag("--unsupported-magic-runtime-error", c.runtime_errors,
                 "turn magics wfrun cannot translate into a runtime error instead of failing");
  conv->add_flag("--no-support", c.no_support,
                 "leave out the support code IPython syntax needs (the script then needs it elsewhere)");
  conv->callback([&exit_code] { exit_code = cmd_nb2py(c); });

  static NbRunArgs r;
  auto* run = app.add_subcommand("nbrun", "run a notebook with plain python3 and write the executed notebook");
  run->add_option("notebook", r.notebook, "the .ipynb file")->required();
  run->add_option("-p,--parameter", r.params, "NAME VALUE: a parameter (VALUE read as YAML; repeatable)")
      ->expected(2)
      ->allow_extra_args(false);
  run->add_option("-f,--parameters-file", r.params_file, "a YAML file of parameters");
  run->add_option("--parameters-env", r.params_env,
                  "NAME: an environment variable holding a JSON object of parameters");
  run->add_option("-o,--output", r.output, "the executed notebook (default: NAME.executed.ipynb beside it)");
  run->add_option("--cwd", r.cwd, "working folder (default: the notebook's folder)");
  run->add_option("--python", r.python, "the Python interpreter (default: python3)");
  run->add_option("--cell-timeout", r.cell_timeout, "seconds a cell may run (default: no limit)");
  run->add_flag("--allow-errors", r.allow_errors, "keep going after a failing cell");
  run->add_flag("-q,--quiet", r.quiet, "do not print progress and cell output");
  run->add_option("--container", r.container,
                  "run Python in the container this file describes (written by notebook@v1 "
                  "with image:); --python and --cwd are then paths inside it")
      ->group("");
  run->callback([&exit_code] { exit_code = cmd_nbrun(r); });
}

}  // namespace wfrun::cli
