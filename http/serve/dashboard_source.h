#pragma once
// `wfrun serve`'s runs for the dashboard (http/dashboard/): the queue's runs, each with the
// store runs of the workflows its `serve-run` child ran (found by their `parent`), in the
// dashboard's JSON shapes, which keep every field GET /api/runs and /api/runs/ID had before.

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "engine/run_index.h"
#include "http/dashboard/source.h"
#include "http/dashboard/store_view.h"
#include "http/serve/config.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

class ServeRunSource : public dashboard::RunSource {
 public:
  /// `wake` tells the dispatcher that the queue changed (a run queued or cancelled).
  ServeRunSource(Queue& queue, ConfigHolder& config, std::string state_dir, std::function<void()> wake)
      : queue_(queue), config_(config), state_dir_(std::move(state_dir)), wake_(std::move(wake)) {}
  std::string kind() const override { return "serve"; }
  Result<nlohmann::json> list(const dashboard::RunQuery& q) override;
  Result<nlohmann::json> facets() override;
  Result<std::optional<nlohmann::json>> get(std::int64_t id) override;
  Result<std::optional<dashboard::JobRef>> job(std::int64_t id, const std::string& workflow,
                                               const std::string& job) override;
  dashboard::Reply cancel(std::int64_t id) override;
  dashboard::Reply rerun(std::int64_t id) override;
  /// POST /api/runs: a manual run ({"repo", "ref", "workflow", "inputs"}).
  dashboard::Reply start(const nlohmann::json& body);

 private:
  Result<engine::RunIndex*> index();
  /// The run's workflows: result.json's entries (once it ended) merged with the store runs
  /// its child made (while it runs too).
  nlohmann::json workflows(const RunRow& row);

  Queue& queue_;
  ConfigHolder& config_;
  std::string state_dir_;
  std::function<void()> wake_;
  std::mutex mu_;
  std::unique_ptr<engine::RunIndex> index_;
  dashboard::ShapeCache shapes_;
};

/// A manual run's request from POST /api/runs' body, checked; or {status, error}.
dashboard::Reply manual_request(const ServerConfig& config, const nlohmann::json& body, RunRequest& out);

}  // namespace wfrun::serve
