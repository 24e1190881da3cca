#pragma once
// `wfrun ui`'s runs: the local run store, one dashboard run per store run.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/run_index.h"
#include "http/dashboard/source.h"
#include "http/dashboard/store_view.h"

namespace wfrun::dashboard {

/// Starts `wfrun run WORKFLOW_FILE --input NAME=VALUE...` in the background, detached from the
/// caller (processes are the CLI's business, so the CLI provides it).
using Launcher = std::function<Status(const std::string& workflow_file,
                                      const std::map<std::string, std::string>& inputs)>;

/// Summary fields of a store run, as the runs list shows them.
nlohmann::json store_run_summary(const engine::RunRow& row);

class LocalRunSource : public RunSource {
 public:
  LocalRunSource(std::unique_ptr<engine::RunIndex> index, Launcher launcher)
      : index_(std::move(index)), launcher_(std::move(launcher)) {}
  std::string kind() const override { return "ui"; }
  Result<nlohmann::json> list(const RunQuery& q) override;
  Result<nlohmann::json> facets() override;
  Result<std::optional<nlohmann::json>> get(std::int64_t id) override;
  Result<std::optional<JobRef>> job(std::int64_t id, const std::string& workflow,
                                    const std::string& job) override;
  Reply cancel(std::int64_t id) override;
  Reply rerun(std::int64_t id) override;

  engine::RunIndex& index() { return *index_; }

 private:
  std::unique_ptr<engine::RunIndex> index_;
  Launcher launcher_;
  ShapeCache shapes_;
};

/// The page cursors of a list: {"runs": rows, "newer": ID|null, "older": ID|null}.
Result<nlohmann::json> page_json(engine::RunIndex& index, const engine::RunFilter& filter,
                                 nlohmann::json runs, std::int64_t newest, std::int64_t oldest);

}  // namespace wfrun::dashboard
