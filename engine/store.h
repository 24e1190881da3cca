#pragma once
// The run store: $WFRUN_HOME/wfrun.db (SQLite, WAL) plus one folder per run. Safe to share
// between several wfrun processes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/owner.h"
#include "engine/run_types.h"

namespace wfrun::engine {

/// One row of `wfrun runs`.
struct RunRecord {
  std::int64_t id = 0;
  std::int64_t number = 0;
  std::string workflow;  // the workflow's name (file stem)
  std::string workflow_file;
  std::string dir;
  RunState state = RunState::kQueued;
  double started = 0, finished = 0;
  /// The wfrun process that runs it (or ran it last): while it is queued or running and this
  /// process is gone, the run was interrupted.
  ProcessOwner owner;
  std::string cgroup;           // the run's cgroup folder, "" when it has none
  RunTrigger trigger;
  std::vector<JobResult> jobs;  // filled by get_run()
};

/// A registered model (create-model@v1).
struct ModelRecord {
  std::string id;  // "mdl-<n>"
  std::string name, type, dataset;
  int dataset_version = 0;
  std::string path;
  std::int64_t run_id = 0;
  double created = 0;
};

/// A dataset version in the local data store.
struct DatasetVersion {
  std::string name;
  int version = 0;
  std::string path;
  std::int64_t run_id = 0;  // the run whose job wrote it; 0: `wfrun datasets add` or by hand
  double created = 0;       // 0: a folder made by hand, unrecorded
  std::string message;      // `wfrun datasets add --message`
};

struct StoreImpl;

/// Owns the SQLite connection. One per process (or thread).
class RunStore {
 public:
  static Result<RunStore> open(const std::string& state_dir);
  RunStore(RunStore&&) noexcept;
  RunStore& operator=(RunStore&&) noexcept;
  ~RunStore();

  const std::string& state_dir() const;

  /// Allocates the next run id and per-workflow number and creates the run's folder. This
  /// process is its owner.
  Result<RunRecord> create_run(const std::string& workflow, const std::string& workflow_file,
                               const RunTrigger& trigger = {});
  /// Records the run's cgroup folder, so that whoever finds the run interrupted removes it.
  Result<void> set_cgroup(std::int64_t id, const std::string& dir);
  /// Marks each queued or running run whose owner has exited (killed, crashed, rebooted) as
  /// interrupted: its running jobs interrupted, its jobs that never started cancelled; rewrites
  /// its run.json and removes what is left of its cgroup. open() calls it; returns their ids.
  Result<std::vector<std::int64_t>> mark_interrupted();
  Result<void> update_run(const RunRecord& run);
  Result<void> update_job(std::int64_t run_id, const JobResult& job);
  /// Several jobs in one transaction.
  Result<void> update_jobs(std::int64_t run_id, const std::vector<const JobResult*>& jobs);
  Result<RunRecord> get_run(std::int64_t id);
  Result<std::vector<RunRecord>> list_runs(int limit = 50);
  /// The newest run of `workflow_file` that a server's run `parent` made (its trigger.parent);
  /// 0 when there is none.
  Result<std::int64_t> last_run_of(std::int64_t parent, const std::string& workflow_file);

  /// Records a new version of dataset `name` whose files are (already) at `path`.
  Result<DatasetVersion> add_dataset_version(const std::string& name, const std::string& path,
                                             std::int64_t run_id);
  /// Moves the folder `from` to dataset_dir(name, next version) and records that version, as
  /// one step that concurrent wfrun processes cannot interleave. With `version`, that version
  /// number instead; one that exists already is an Error (versions are immutable).
  Result<DatasetVersion> commit_dataset_version(const std::string& name, const std::string& from,
                                                std::int64_t run_id,
                                                const std::string& message = "",
                                                std::optional<int> version = std::nullopt);
  /// Every version of `name` ("" = of every dataset), recorded or made by hand, by name and
  /// version.
  Result<std::vector<DatasetVersion>> list_datasets(const std::string& name = "");
  /// Drops the record of a version (its folder is the caller's to delete first).
  Result<void> forget_dataset_version(const std::string& name, int version);
  /// The newest version (no version given) or the given one.
  Result<DatasetVersion> find_dataset(const std::string& name, std::optional<int> version);
  /// Where the next version of `name` should be written (the folder does not exist yet).
  std::string dataset_dir(const std::string& name, int version) const;

  Result<ModelRecord> add_model(const ModelRecord& m);
  Result<std::vector<ModelRecord>> list_models();
  /// Drops a model's record (its files are its dataset version's, which stays).
  Result<void> remove_model(const std::string& id);

 private:
  explicit RunStore(std::unique_ptr<StoreImpl> impl);
  std::unique_ptr<StoreImpl> impl_;
};

}  // namespace wfrun::engine
