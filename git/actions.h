#pragma once
// The git actions for workflows: git-checkout@v1 (Gradient's) and git-commit@v1 (ours).
//
// Each one is a process, like notebook@v1: the job runs `wfrun git-checkout ...` or
// `wfrun git-commit ...` (this very binary), so a slow clone or push never blocks the engine's
// single event loop, and timeouts, cancellation and live logs work as for any job. The token
// reaches that process through its environment (WFRUN_GIT_TOKEN), never its command line.
// What runs in that process: run_checkout(), and expand_paths() + commit_and_push().

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

/// `uses: git-commit@v1` with `paths` (files or globs in the job's /inputs, required), `dest`,
/// `url` or `repo` (OWNER/NAME on GitHub, or on $WFRUN_GITHUB_URL), `branch` (required),
/// `base`, `message`, `author`, `username`, `password`, `pull-request` ({title, body, base}).
/// The bare clone the commit is made in is the job's folder `git-commit.git`, kept when the
/// push fails.
class GitCommitAction : public engine::Action {
 public:
  Status check(const workflows::Job& job) const override;
  Result<engine::ActionCommand> command(const engine::ActionContext& ctx) const override;
};

/// Adds git-checkout@v1 and git-commit@v1 to `registry` (call at start-up).
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

/// The GitHub host's base URL: $WFRUN_GITHUB_URL (GitHub Enterprise's `https://HOST`, or a
/// test server), else `https://github.com`; no trailing `/`.
std::string github_base_url();

/// `BASE/OWNER/NAME.git` for `repo` = OWNER/NAME (anything else is an Error).
Result<std::string> github_repo_url(const std::string& repo);

/// Expands `paths` (globs) in `inputs_dir` as `cp -r PATHS DEST/` would: a file lands at
/// DEST/NAME, a folder at DEST/NAME/... A pattern that matches nothing is an Error naming it.
Result<std::vector<FileToCommit>> expand_paths(const std::string& inputs_dir,
                                               const std::vector<std::string>& paths,
                                               const std::string& dest);

}  // namespace wfrun::git
