#pragma once
// The local data store's names: checking a dataset name, reading `NAME[:VERSION]` refs, and
// Gradient's dataset ids (`dsrz5za640fptze`) mapped to local names by a datasets.yaml, so that
// a spec from Gradient runs unchanged.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "workflows/workflow.h"

namespace wfrun::engine {

/// `NAME` or `NAME:VERSION`.
struct DatasetRef {
  std::string name;
  std::optional<int> version;
  std::string str() const;
};

/// Splits `NAME:N` (N a number, or Gradient's `vN` and `latest`); anything else after the last
/// colon stays part of the name (and then fails check_dataset_name).
DatasetRef parse_dataset_ref(const std::string& ref);

/// A dataset name is a folder under $WFRUN_HOME/datasets: letters, digits, '-', '_' and '.',
/// optionally one `NAMESPACE/` in front (Gradient's public datasets, `gradient/NAME`); never
/// `.` or `..`. The error says what is wrong and what to do.
Status check_dataset_name(const std::string& name);

/// Gradient dataset ids (or any other names) standing for local datasets, from YAML files of
/// this form (later files win):
///
///   aliases:
///     dsrz5za640fptze: vehicles          # ID -> local NAME
///     dstmt2ius5k3hxe:abcdef: model:3    # a Gradient version -> a local version
class DatasetAliases {
 public:
  /// Reads the files that exist; a file that does not parse is an Error naming its line.
  static Result<DatasetAliases> load(const std::vector<std::string>& files);

  /// `ref` with an aliased name replaced, keeping (or mapping) its version; an unaliased ref
  /// comes back as it is. `ID:VERSION` is looked up whole first, then by ID; a Gradient
  /// version (not a number) of an ID aliased only as a whole is an Error saying what to add.
  Result<DatasetRef> resolve(const std::string& ref) const;

  /// Where `key` was defined ("" = not aliased).
  std::string source(const std::string& key) const;
  const std::map<std::string, std::string>& entries() const { return map_; }
  void add(const std::string& key, const std::string& value, const std::string& file);

 private:
  std::map<std::string, std::string> map_, from_;
};

/// The datasets.yaml files a run reads: $WFRUN_HOME/datasets.yaml, then the one beside the
/// workflow file (which wins).
std::vector<std::string> dataset_alias_files(const std::string& state_dir,
                                             const std::string& workflow_dir);

/// Adds (or replaces) `id: name` in the aliases file, keeping the rest of it; creates it.
Status write_dataset_alias(const std::string& file, const std::string& id,
                           const std::string& name);

/// True for what looks like a Gradient dataset id: "ds" then 13 lower-case letters or digits.
bool looks_like_gradient_dataset_id(const std::string& name);

/// Every dataset ref of a run resolved through `aliases` and checked: workflow inputs'
/// defaults, `inputs` (--input values of dataset inputs), jobs' inline inputs and their
/// outputs' `ref`. A bad name is an Error at its place in the file (or naming --input).
Status localize_datasets(workflows::Workflow& wf, std::map<std::string, std::string>& inputs,
                         const DatasetAliases& aliases);

class RunStore;
struct DatasetVersion;

/// `wfrun datasets add`: copies (or, with `move`, moves) the folder or file at `path` in as the
/// next version of `name`, read-only from then on, and records it with `message`.
Result<DatasetVersion> add_dataset_version(RunStore& store, const std::string& name,
                                           const std::string& path, const std::string& message,
                                           bool move);

/// `wfrun datasets rm NAME:VERSION`: deletes that version's files and record. Refused while a
/// registered model is that version's files.
Status remove_dataset_version(RunStore& store, const std::string& name, int version);

/// What a version holds: files (not folders) and their bytes, and the first `list` paths
/// (relative, sorted, folders with a trailing '/').
struct DatasetContents {
  std::uint64_t files = 0, bytes = 0;
  std::vector<std::string> listing;
  bool more = false;  // the listing was cut at `list`
};
Result<DatasetContents> dataset_contents(const std::string& path, size_t list);

/// Takes the write bits off a committed version's files and folders (what was written is not
/// changed by a later job on the host); `writable` puts them back (before deleting).
Status set_read_only(const std::string& path, bool read_only);

}  // namespace wfrun::engine
