#pragma once
// Where the dashboard's runs come from. `wfrun ui` reads the local run store (local_source.h);
// `wfrun serve` lists its own queue, each of whose runs holds the store runs of the workflows
// it ran. Both answer in the same JSON shapes (docs/dashboard.md, "API"), so the pages work
// unchanged on either.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace wfrun::dashboard {

/// The runs page's filters and keyset paging, from the query string.
struct RunQuery {
  std::string status, workflow, repo, branch, trigger;
  int limit = 50;
  std::int64_t before = 0, after = 0;
};

/// One output of a job, resolved on this machine.
struct OutputRef {
  std::string type;  // string, volume or dataset
  std::string value;  // string outputs: the value; datasets: NAME:VERSION
  std::string dir;    // volumes and datasets: the folder holding the files ("" if none)
};

/// One job of one of a run's workflows, as the job endpoints need it.
struct JobRef {
  std::int64_t store_run = 0;  // the run store's id
  std::string job;
  std::string log_path;
  bool running = false;  // the job (or its run) may still write to the log
  std::map<std::string, OutputRef> outputs;
};

/// A JSON answer with its HTTP status, for the actions (cancel, re-run).
struct Reply {
  int status = 200;
  nlohmann::json body;
};

class RunSource {
 public:
  virtual ~RunSource() = default;
  /// "ui" or "serve".
  virtual std::string kind() const = 0;
  /// {"runs": [summary...], "newer": ID|null, "older": ID|null} (the keyset cursors).
  virtual Result<nlohmann::json> list(const RunQuery& q) = 0;
  /// {"status": [...], "workflow": [...], "repo": [...], "branch": [...], "trigger": [...]}
  virtual Result<nlohmann::json> facets() = 0;
  /// The run page's data; nullopt when there is no such run.
  virtual Result<std::optional<nlohmann::json>> get(std::int64_t id) = 0;
  /// Job `job` of run `id`; `workflow` names one of the run's workflows when it has several:
  /// its path, or "#N" (the N-th, from 0); "": the first that has such a job. nullopt: no such
  /// job.
  virtual Result<std::optional<JobRef>> job(std::int64_t id, const std::string& workflow,
                                            const std::string& job) = 0;
  virtual Reply cancel(std::int64_t id) = 0;
  virtual Reply rerun(std::int64_t id) = 0;
};

}  // namespace wfrun::dashboard
