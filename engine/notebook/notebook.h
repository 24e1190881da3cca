#pragma once
// Jupyter notebooks without Jupyter: reading (nbformat 3 and 4), conversion to a plain Python
// script (`wfrun nb2py`), and execution with a bare python3 (`wfrun nbrun`, `notebook@v1`).

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace wfrun::notebook {

/// A notebook read from disk, upgraded to nbformat 4. `doc` is the whole document; every
/// cell's `source` is a single string (multi-line lists are joined on read).
struct Notebook {
  std::string path;      // as given, for messages
  nlohmann::json doc;    // nbformat 4
  int original_major = 4;
  int original_minor = 0;

  nlohmann::json& cells() { return doc["cells"]; }
  const nlohmann::json& cells() const { return doc.at("cells"); }
};

/// Reads and validates a notebook. Errors name the file, the JSON location and what is wrong:
/// `a.ipynb: cells[3]: code cell has no 'source'`.
Result<Notebook> read_notebook(const std::string& path);
/// The same, from text already in memory (`path` is only used in messages).
Result<Notebook> parse_notebook(std::string_view text, const std::string& path);
/// Fails unless the notebook's kernel is Python (or it declares none).
Status check_python_kernel(const Notebook& nb);

/// The cell's source as one string (nbformat allows a string or a list of lines).
std::string cell_source(const nlohmann::json& cell);
/// The cell's tags (metadata.tags), or empty.
std::vector<std::string> cell_tags(const nlohmann::json& cell);

/// What to do with a magic wfrun does not translate.
enum class UnsupportedMagic {
  kFail,          // conversion fails: `NOTEBOOK: cell N, line M: unsupported magic %xyz`
  kRuntimeError,  // becomes a call that raises UsageError when it runs (IPython's behaviour)
};

struct ConvertOptions {
  UnsupportedMagic unsupported = UnsupportedMagic::kFail;
  bool include_support = true;  // put support.py at the top when a cell needs it
  /// Wrap a cell's final expression in `_wf.result(N, ...)` so that `_`, `__`, `Out[N]` and `_N`
  /// hold what they hold in IPython. nb_to_py turns this on for notebooks that read them.
  bool keep_results = false;
};

/// Translates one code cell's IPython syntax into plain Python, line for line (the result has
/// as many lines as the source, so line numbers in errors stay right). `cell_no` (1-based,
/// among code cells) and `file` are for messages.
Result<std::string> translate_cell(std::string_view source, const ConvertOptions& options,
                                   const std::string& file, int cell_no);

/// The whole notebook as a percent-format script that runs under plain python3.
Result<std::string> nb_to_py(const Notebook& nb, const ConvertOptions& options);

/// papermill's parameter cell: `# Parameters\nname = literal\n...` from a JSON object.
std::string parameters_source(const nlohmann::json& params);
/// A Python literal for a YAML/JSON value: 1, 2.5, True, None, "s", [..], {..}.
std::string python_literal(const nlohmann::json& value);
/// Adds (or replaces) the `injected-parameters` cell after the `parameters`-tagged cell (at the
/// top when there is none). No-op for an empty object.
void inject_parameters(Notebook& nb, const nlohmann::json& params);
/// Parses a YAML parameters file into a JSON object.
Result<nlohmann::json> read_parameters_yaml(const std::string& path);
/// `-p NAME VALUE`: VALUE read as a YAML scalar/flow value (papermill's -y semantics).
nlohmann::json parse_parameter_value(const std::string& text);

/// Where the runner runs when not on the host: a container (notebook@v1 with `image:`). wfrun
/// stays outside and reads the runner's events from a FIFO in a folder mounted into it.
struct NbContainer {
  using Mounts = std::vector<std::pair<std::string, std::string>>;  // host folder -> inside
  /// The runtime's command line that runs `args` in the container, with `mounts` and `env`
  /// added and `workdir` ("" = the container's default) as its working folder.
  std::function<std::vector<std::string>(const Mounts& mounts,
                                         const std::map<std::string, std::string>& env,
                                         const std::string& workdir,
                                         const std::vector<std::string>& args)>
      argv;
  /// Stops the container at once (its PID 1 ignores SIGTERM); called on cancel and timeout.
  std::function<void()> kill;
  std::string image;  // for messages
};

/// Where the runner finds its scratch folder (runner, plan, event FIFO) inside a container.
inline constexpr const char* kContainerScratch = "/wfrun-nb";

/// How to run a notebook.
struct NbRunOptions {
  std::string notebook;               // input path
  std::string output;                 // executed notebook path ("" = don't write)
  nlohmann::json params = nlohmann::json::object();
  std::string python = "python3";
  std::string cwd;                    // "" = the notebook's folder (like nbconvert)
  std::chrono::milliseconds cell_timeout{0};  // 0 = none
  bool allow_errors = false;
  /// Environment for the Python process: when set, exactly this; else ours.
  std::optional<std::map<std::string, std::string>> env;
  std::map<std::string, std::string> extra_env;  // added on top
  /// Live log lines: "cell 3/12" as each cell starts, then the cell's output line by line.
  std::function<void(std::string_view line)> on_log;
  int cancel_fd = -1;  // readable => kill the run
  /// Run the runner in this container; `python` and `cwd` are then paths inside it, and
  /// `env` is the container runtime's environment.
  std::optional<NbContainer> container;
};

/// What a run gave.
struct NbRunResult {
  bool ok = false;
  int failed_cell = -1;  // index into the notebook's cells; -1 when none
  std::string error;     // `train.ipynb: cell 7, line 3: ZeroDivisionError: division by zero`
  std::string output;    // the executed notebook's path ("" when not written)
  int cells_run = 0;
  nlohmann::json executed;  // the executed notebook
};

/// Runs the notebook with `python` (no Jupyter needed) and writes the executed notebook after
/// every cell. A failing cell, a dead interpreter or a timeout is a result with ok=false, not
/// an Error; Errors are for what stops us starting (unreadable notebook, no python, ...).
Result<NbRunResult> run_notebook(const NbRunOptions& options);

}  // namespace wfrun::notebook
