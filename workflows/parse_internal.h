#pragma once
// Internal to workflows/: the parser's state, shared by yaml_reader.cc (generic YAML helpers),
// parser.cc (YAML -> model, per-field checks) and check.cc (cross-references, cycles).

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "workflows/actions.h"
#include "workflows/workflow.h"

namespace wfrun::workflows::internal {

/// One key of a YAML map, with its field path ("jobs.train.env").
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  std::string path;
};

/// A `${{ }}` reference found in a value, checked against the model once it is complete.
struct PendingExpr {
  std::string job;  // "" for defaults.env
  std::string path;
  Location where;
};

/// Parses one workflow text. Collects every error it finds; parse() returns the first in file
/// order.
class WorkflowParser {
 public:
  WorkflowParser(std::string_view text, std::string file);
  Result<Workflow> parse();

 private:
  // ---- yaml_reader.cc: locations, errors, typed scalars ----
  void error(const Location& where, std::string message);
  Location loc(const YAML::Node& node) const;
  Location key_loc(const Entry& e) const;
  Location value_loc(const Entry& e) const;  // the key's when the value is empty
  Location offset_loc(const YAML::Node& node, std::string_view value, size_t offset) const;
  void scan_tabs();
  /// Set by scan_tabs() or load_documents() when the text would send yaml-cpp into a loop that
  /// allocates without end (a ',' that starts a document's content outside any [...] or {...}):
  /// parse() stops there.
  bool yaml_unsafe_ = false;
  YAML::Mark second_document_;  // where a second document starts, if there is one
  /// parser.cc: the first document, and an empty node for a second one (see there).
  std::vector<YAML::Node> load_documents();
  Error yaml_error(const YAML::Exception& e) const;
  /// The map's keys in order, duplicates and non-scalar keys reported and dropped. Records each
  /// key's location in wf_.locations under PATH.KEY.
  std::vector<Entry> entries(const YAML::Node& map, const std::string& path);
  /// Reports `e` as an unknown key of `context` ("job 'train'", "defaults").
  void read_input_with(const Entry& with, std::optional<IoType> type,
                       std::optional<std::string>& value, std::optional<std::string>& ref,
                       const std::string& what);
  void unknown_key(const Entry& e, const std::vector<std::string>& allowed,
                   const std::string& context);
  bool expect_map(const Entry& e, const std::string& what);
  std::optional<std::string> get_string(const Entry& e);
  std::optional<long long> get_int(const Entry& e);
  std::optional<double> get_number(const Entry& e);
  std::optional<bool> get_bool(const Entry& e);
  /// A scalar or a list of scalars, as strings (`needs: a` == `needs: [a]`).
  std::optional<std::vector<std::string>> get_string_list(const Entry& e);
  /// Converts any YAML value to JSON; plain scalars keep their YAML type when `typed`.
  Json to_json(const YAML::Node& node, const std::string& path, bool typed);
  /// Checks one string value of `with`/`env`: secrets, context.* references, `${{ }}`.
  void check_value(const YAML::Node& node, const std::string& value, const std::string& job);
  /// check_value() on every scalar below `node`.
  void check_strings(const YAML::Node& node, const std::string& job);
  Result<Workflow> first_error() const;

  // ---- parser.cc: the model ----
  void read_root(const YAML::Node& root);
  void read_defaults(const Entry& e);
  void read_resources(const Entry& e, Resources& out, bool defaults);
  void read_executor(const Entry& e, std::string& out);
  void read_slurm(const Entry& e, SlurmPlacement& out);
  void read_env(const Entry& e, std::map<std::string, std::string>& out, const std::string& job);
  void read_workflow_inputs(const Entry& e);
  void read_on(const Entry& e);
  void read_context(const Entry& e);
  void read_github(const Entry& e);  // github_block.cc
  void read_filter(const Entry& e, RefFilter& out);
  void read_jobs(const Entry& e);
  void read_job(const Entry& e);
  void read_uses(Job& job, const Entry& e);
  void read_with(Job& job, const Entry& e);
  void read_job_inputs(Job& job, const Entry& e);
  void read_job_outputs(Job& job, const Entry& e);
  void read_needs(Job& job, const Entry& e);
  void read_condition(Job& job, const Entry& e);
  std::optional<IoType> read_io_type(const Entry& e);
  void read_with_arg(const Entry& e, const ActionSpec& spec, const ActionArg& arg, Json& out);
  Location needs_loc(const Job& job, size_t i) const;
  void merge_defaults();

  // ---- check.cc: cross-references ----
  void check_model();
  void check_needs();
  void check_cycles();
  void resolve_legacy_volumes();
  void check_job_inputs();
  void check_action_io();
  void check_expressions();
  bool needs_transitively(const std::string& job, const std::string& dep) const;

  std::string_view text_;
  std::vector<size_t> line_starts_;
  Workflow wf_;
  std::vector<Error> errors_;
  std::vector<PendingExpr> exprs_;
  std::map<std::string, Location> value_locs_;      // field path -> location of its value
  std::map<std::string, const ActionSpec*> specs_;  // job -> its known action
  std::set<std::string> untyped_outputs_;           // "JOB.NAME" outputs with a bad type
  std::set<std::string> untyped_inputs_;            // workflow inputs with a bad type
  std::set<std::string> untyped_job_inputs_;        // "JOB.NAME" job inputs of unknown type
  // Every job it needs, transitively: ancestors_[i] is a bitset over job indices.
  std::map<std::string, size_t> job_index_;
  std::vector<std::vector<uint64_t>> ancestors_;
};

/// Names of jobs, inputs and outputs: letters, digits, '-' and '_'.
bool is_name(std::string_view s);
/// Environment variable names: letters, digits and '_', not starting with a digit.
bool is_env_name(std::string_view s);
/// What to say about a GitHub Actions (or Gradient-rejected) key at the top level or in a job,
/// or "" for other keys.
std::string foreign_key_hint(const std::string& key, bool top);
/// "'text'" for a scalar, else "a map", "a list", "an empty value".
std::string describe_value(const YAML::Node& n);

}  // namespace wfrun::workflows::internal
