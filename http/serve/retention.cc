#include "http/serve/retention.h"

#include <filesystem>

#include "http/serve/dispatcher.h"

namespace wfrun::serve {

Result<Pruned> prune_state(Queue& queue, const ServerConfig& config, const std::string& state_dir,
                           double now) {
  PrunePolicy p;
  if (config.keep_runs.age > 0) p.runs_before = now - config.keep_runs.age;
  p.runs_count = config.keep_runs.count;
  if (config.keep_deliveries.age > 0) p.deliveries_before = now - config.keep_deliveries.age;
  p.deliveries_count = config.keep_deliveries.count;
  auto pruned = queue.prune(p);
  if (!pruned) return pruned.error();
  for (auto id : pruned->runs) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir(state_dir, id), ec);
  }
  return pruned;
}

}  // namespace wfrun::serve
