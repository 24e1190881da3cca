#pragma once
// The git actions for workflows: git-checkout@v1 (Gradient's).
//
// Each one is a process, like notebook@v1: the job runs `wfrun git-checkout ...` (this very
// binary), so a slow clone never blocks the engine's single event loop, and timeouts,
// cancellation and live logs work as for any job. The token reaches that process through its
// environment (WFRUN_GIT_TOKEN), never its command line. The half that runs in that process
// is run_checkout().

#include <string>
#include <vector>

#include "base/error.h"
#include "engine/actions.h"
#include "git/git.h"

namespace wfrun::git {

/// The environment variable that carries the token to the job's process.
inline constexpr const char* kTokenEnv = "WFRUN_GIT_TOKEN";

/// `uses: git-checkout@v1` with `url` (required), `ref`, `path`, `username`, `password`,
/// `submodules`. Clones through the clone cache (STATE/git-cache) into `path`: by default
/// the job's single volume output; a relative path is a folder under the job's /outputs.
class GitCheckoutAction : public engine::Action {
 public:
  Status check(const workflows::Job& job) const override;
  Result<engine::ActionCommand> command(const engine::ActionContext& ctx) const override;
};

/// Adds git-checkout@v1 to `registry` (call at start-up).
void register_git_actions(engine::ActionRegistry& registry);

/// What `wfrun git-checkout` does.
struct CheckoutRequest {
  std::string url;
  std::string ref;  // "" = the remote's default branch
  std::string dest;
  std::string cache_dir;
  bool submodules = false;
};

/// Clones `req.url` through the cache into `req.dest` and checks out `req.ref`. Returns the
/// commit checked out.
Result<std::string> run_checkout(const CheckoutRequest& req, const RemoteOptions& opts);

}  // namespace wfrun::git
