#pragma once
// What a job's `uses:` does. An Action either names a process to run (on the host or in a
// container) or does its work inside wfrun. Actions are found by their `uses:` name in an
// ActionRegistry; other folders (git/, notebooks) plug in by registering more.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/output.h"
#include "engine/paths.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

class RunStore;

/// What an action sees of one attempt of a job. `with` and `env` are resolved: secrets filled
/// in, `${{ }}` interpolated and, for host jobs in rewrite mode, /inputs and /outputs rewritten.
struct ActionContext {
  const workflows::Job& job;
  const workflows::Json& with;
  const std::map<std::string, std::string>& env;
  const JobDirs& dirs;
  const std::vector<ResolvedInput>& inputs;
  RunStore* store = nullptr;
  std::int64_t run_id = 0;
  OutputSink* output = nullptr;  // in-process actions: lines for the job's log
  /// The run's secrets by name (null in tests that give none), for actions that fall back on
  /// a well-known one (git's GITHUB_TOKEN).
  const std::map<std::string, std::string>* secrets = nullptr;

  const ResolvedInput* input(const std::string& name) const;
  /// with[key] as a string ("" when absent or not a string).
  std::string arg(const std::string& key) const;
};

/// A process to run for a job: on the host (image empty) or in a container.
struct ActionCommand {
  std::vector<std::string> argv;  // host: the command; container: the arguments after the image
  std::string image;
  std::optional<std::string> entrypoint;  // container only
  std::string network;                    // container only; "" = none
  /// More environment for the process, on top of the job's `env` (for a container, passed by
  /// name). For values that must stay off the command line, where `ps` shows them: tokens.
  std::map<std::string, std::string> env;
  /// Container only: more `-v HOST:INSIDE` mounts, and the working folder inside ("" = the
  /// image's).
  std::vector<std::pair<std::string, std::string>> mounts;
  std::string workdir;
  /// Container only: argv runs on the host and starts the container itself (notebook@v1: the
  /// runner in the image, wfrun outside reading its events). launch_spec() writes the
  /// container (runtime, image, mounts, env, GPUs) as JSON and appends `--container FILE`.
  bool starts_container = false;
};

/// What a `uses:` does.
class Action {
 public:
  virtual ~Action() = default;
  /// The image a job runs in ("" = on the host, or in-process). A job with an image needs a
  /// container runtime; this is asked before the run, on the unresolved `with`.
  virtual std::string image(const workflows::Job& job) const { return ""; }
  /// Checks before the run what the parser cannot (e.g. arguments that only this engine knows).
  virtual Status check(const workflows::Job& job) const { return {}; }
  /// True for actions that work inside wfrun (run()) instead of starting a process (command()).
  virtual bool in_process() const { return false; }
  virtual Result<ActionCommand> command(const ActionContext& ctx) const;
  /// In-process work: string outputs by name, or an Error that fails the job.
  virtual Result<std::map<std::string, std::string>> run(const ActionContext& ctx) const;
};

/// Actions by `uses:` name ("script@v1").
class ActionRegistry {
 public:
  void add(const std::string& uses, std::shared_ptr<const Action> action);
  const Action* find(const std::string& uses) const;
  std::vector<std::string> names() const;
  /// A registry holding the engine's own actions: script@v1, container@v1, create-model@v1.
  static ActionRegistry with_builtins();

 private:
  std::map<std::string, std::shared_ptr<const Action>> actions_;
};

/// The registry run_workflow() and plan_run() use when RunOptions::actions is null: the
/// builtins, plus whatever the program registered at start-up (before any run).
ActionRegistry& default_actions();

/// script@v1: `bash -e -c SCRIPT` (errexit: the script stops at the first failing command), on
/// the host or, with `image:`, in the container (the image must have bash). On the host, a
/// script that is one plain command (see simple_command) is executed without bash.
class ScriptAction : public Action {
 public:
  std::string image(const workflows::Job& job) const override;
  Result<ActionCommand> command(const ActionContext& ctx) const override;
};

/// `script` as an argv when it is a single command of plain words (letters, digits and
/// `_-./,:+@=`, no shell syntax, not a shell builtin or keyword, the program found on `path`);
/// nullopt when it needs a shell.
std::optional<std::vector<std::string>> simple_command(std::string_view script,
                                                       const std::string& path);

/// container@v1: runs IMAGE with `args`; `command` (a string split on spaces, or a list)
/// replaces the image's entrypoint: its first word is --entrypoint, the rest go before args.
class ContainerAction : public Action {
 public:
  std::string image(const workflows::Job& job) const override;
  Result<ActionCommand> command(const ActionContext& ctx) const override;
};

/// create-model@v1: registers the dataset version given as input `model` as a model
/// (`name`, `type` from `with`) and outputs its id as the string `model-id`.
class CreateModelAction : public Action {
 public:
  bool in_process() const override { return true; }
  Result<std::map<std::string, std::string>> run(const ActionContext& ctx) const override;
};

}  // namespace wfrun::engine
