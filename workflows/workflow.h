#pragma once
// The workflow model: what a parsed and checked workflow file says. Plain data, no behaviour
// beyond look-ups. Produced by parse_workflow() (parser.h).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "workflows/executor_settings.h"

namespace wfrun::workflows {

using Json = nlohmann::ordered_json;

/// The three kinds of value that flow between jobs (Gradient's types).
enum class IoType { kString, kVolume, kDataset };
const char* io_type_name(IoType t);

/// A top-level `inputs:` entry. Defaults under `with: value:` (string) or `with: ref:`
/// (dataset `NAME` or `NAME:VERSION`, volume: a host path).
struct WorkflowInput {
  std::string name;
  IoType type = IoType::kString;
  std::optional<std::string> value;  // string default
  std::optional<std::string> ref;    // dataset/volume default
  Location where;
};

/// A job's `inputs:` entry: a dotted reference (`workflow.inputs.X`, `JOB.outputs.Y`) or an
/// inline declaration (`{type: dataset, with: {ref: NAME[:VERSION]}}`, `{type: string, with: {value: V}}`).
struct JobInput {
  enum class Source { kWorkflowInput, kJobOutput, kInline };
  std::string name;  // mounted at /inputs/NAME
  Source source = Source::kInline;
  std::string job;   // kJobOutput: the producing job
  std::string from;  // kWorkflowInput: input name; kJobOutput: output name
  IoType type = IoType::kString;     // resolved type (for references: the referenced one's)
  std::optional<std::string> value;  // kInline string
  std::optional<std::string> ref;    // kInline dataset/volume
  Location where;
};

/// A job's `outputs:` entry, written at /outputs/NAME. A dataset output names its dataset
/// with `with: ref: NAME` (default: the output name).
struct JobOutput {
  std::string name;
  IoType type = IoType::kVolume;
  std::optional<std::string> ref;
  Location where;
};

/// `resources:` (Gradient's `instance-type`, and our `gpus`, `cpus`, `memory`).
struct Resources {
  std::string instance_type;
  std::optional<int> gpus;
  std::optional<double> cpus;
  std::optional<long long> memory_bytes;  // from "512Mi", "16G", "4GB", ...
  std::map<std::string, Location> where;   // key -> location
  /// Extension: `slurm:` (partition, account, qos, constraint, sbatch-args) for the Slurm
  /// executor; other executors ignore it.
  SlurmPlacement slurm;
};

/// Our `if:` extension.
enum class Condition { kSuccess, kFailure, kAlways };

/// One job of the DAG.
struct Job {
  std::string name;
  Location where;                 // of the job's key
  std::string uses;               // e.g. "script@v1"
  Json with = Json::object();     // action arguments, as written (secrets and ${{ }} unresolved)
  std::vector<std::string> needs;
  std::vector<JobInput> inputs;
  std::vector<JobOutput> outputs;
  std::map<std::string, std::string> env;  // job env (defaults.env merged in by the parser)
  Resources resources;                      // job resources (defaults.resources merged in)
  std::optional<double> timeout_seconds;    // extension: `timeout: 90m`
  int retries = 0;                          // extension
  bool continue_on_error = false;           // extension
  Condition condition = Condition::kSuccess;  // extension: `if:`
  std::string executor;                     // extension: "local" or "slurm"; "" = the run's

  const JobInput* input(const std::string& n) const;
  const JobOutput* output(const std::string& n) const;
};

/// A filter of the `on: github:` block: regexes or names (Gradient's `branches: only: main`).
struct RefFilter {
  std::vector<std::string> only;
  std::vector<std::string> ignore;
  bool present = false;
};

/// `on:` — parsed and validated now; the server acts on it.
struct Trigger {
  RefFilter branches;
  RefFilter tags;
  RefFilter pull_request;  // extension: base branches of pull requests
  Location where;
};

/// The workflow-level `github:` block (our extension): report each run to GitHub as a commit
/// status (or a check run, with an App) and a Markdown comment. Credentials stay `secret:NAME`
/// here; the CLI resolves them.
struct GithubBlock {
  std::string repo;                // OWNER/NAME; "" = the triggering event's (or checkout's) repo
  std::string token;               // "secret:NAME"; "" with no `app` = the GITHUB_TOKEN secret
  std::string app_id;              // `app: {id, key, installation}`
  std::string app_key;             // "secret:NAME" holding the App's private key (PEM)
  long long app_installation = 0;  // 0 = looked up from the repo
  std::string status;              // the status context ("" = no status)
  bool comment = false;            // post (and update) the run report comment
  Location where;
};

/// A whole workflow file.
struct Workflow {
  std::string file;  // as given on the command line
  std::string text;  // the file's content, as read
  std::map<std::string, std::string> default_env;
  Resources default_resources;
  std::string default_executor;  // extension: defaults.executor; "" = the run's
  std::vector<WorkflowInput> inputs;
  std::vector<Job> jobs;  // in file order
  std::optional<Trigger> on;
  std::optional<GithubBlock> github;  // extension: report runs to GitHub
  /// Gradient's top-level `context: {event: {github: {url, ref, ...}}}`, which its run specs
  /// carry: what context.event.github.* gives when no event triggered the run.
  std::map<std::string, std::string> github_context;
  /// Location of every key in the file by field path: "jobs.train.with.script" -> 12:7.
  std::map<std::string, Location> locations;

  const Job* job(const std::string& name) const;
  const WorkflowInput* input(const std::string& name) const;
  /// The location of a field path, or of its closest enclosing field that has one.
  Location where(const std::string& field) const;
  /// Every NAME used as `secret:NAME` in `env` or `with`, with the field path of one use
  /// (the first in file order).
  std::map<std::string, std::string> secrets() const;
  /// Every use of `secret:NAME` in `defaults.env`, a job's own `env`, its `with` or `github:`, as
  /// (NAME, field path), in file order. A default env value inherited by a job is listed once,
  /// under `defaults.env.NAME`.
  std::vector<std::pair<std::string, std::string>> secret_uses() const;
};

/// "secret:NAME" -> "NAME", else nullopt.
std::optional<std::string> secret_name(const std::string& value);

}  // namespace wfrun::workflows
