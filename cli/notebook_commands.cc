#include "cli/notebook_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "engine/notebook/notebook.h"

namespace wfrun::cli {
namespace {

namespace nb = wfrun::notebook;

struct Nb2PyArgs {
  std::string notebook, output;
  bool runtime_errors = false;
  bool no_support = false;
};

struct NbRunArgs {
  std::string notebook, output, params_file, cwd, python = "python3";
  std::vector<std::vector<std::string>> params;
  bool allow_errors = false;
  double cell_timeout = 0;
  bool quiet = false;
};

int cmd_nb2py(const Nb2PyArgs& a) {
  auto book = nb::read_notebook(a.notebook);
  if (!book) {
    std::fprintf(stderr, "wfrun: %s\n", book.error().str().c_str());
    return 2;
  }
  if (auto st = nb::check_python_kernel(*book); !st) {
    std::fprintf(stderr, "wfrun: %s\n", st.error().str().c_str());
    return 2;
  }
  nb::ConvertOptions o;
  o.unsupported = a.runtime_errors ? nb::UnsupportedMagic::kRuntimeError : nb::UnsupportedMagic::kFail;
  o.include_support = !a.no_support;
  auto py = nb::nb_to_py(*book, o);
  if (!py) {
    std::fprintf(stderr, "wfrun: %s\n", py.error().str().c_str());
    return 2;
  }
  if (a.output.empty() || a.output == "-") {
    std::fwrite(py->data(), 1, py->size(), stdout);
    return 0;
  }
  std::ofstream f(a.output, std::ios::binary | std::ios::trunc);
  f << *py;
  if (!f) {
    std::fprintf(stderr, "wfrun: cannot write %s\n", a.output.c_str());
    return 2;
  }
  return 0;
}

int self_pipe[2] = {-1, -1};
void on_signal(int) {
  if (self_pipe[1] >= 0) (void)!::write(self_pipe[1], "x", 1);
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
  auto* conv = app.add_subcommand("nb2py", "convert a notebook to a plain Python script (percent format)");
  conv->add_option("notebook", c.notebook, "the .ipynb file")->required();
  conv->add_option("-o,--output", c.output, "write the script here (default: stdout)");
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
  run->add_option("-o,--output", r.output, "the executed notebook (default: NAME.executed.ipynb beside it)");
  run->add_option("--cwd", r.cwd, "working folder (default: the notebook's folder)");
  run->add_option("--python", r.python, "the Python interpreter (default: python3)");
  run->add_option("--cell-timeout", r.cell_timeout, "seconds a cell may run (default: no limit)");
  run->add_flag("--allow-errors", r.allow_errors, "keep going after a failing cell");
  run->add_flag("-q,--quiet", r.quiet, "do not print progress and cell output");
  run->callback([&exit_code] { exit_code = cmd_nbrun(r); });
}

}  // namespace wfrun::cli
