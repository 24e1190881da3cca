#pragma once
// The server's retention (server.yaml's `retention:`): what is pruned, by the dispatcher every
// ten minutes and by `wfrun serve --vacuum`.

#include <string>

#include "base/error.h"
#include "http/serve/config.h"
#include "http/serve/queue.h"

namespace wfrun::serve {

/// Prunes what `config.keep_runs` and `config.keep_deliveries` let go at `now`, and the folders
/// of the runs that went (STATE/serve/runs/ID).
Result<Pruned> prune_state(Queue& queue, const ServerConfig& config, const std::string& state_dir,
                           double now);

}  // namespace wfrun::serve
